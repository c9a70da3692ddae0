// The VMM's address space (struct mm_struct): mappings, their pages, protection and hwpoison.
// Page contents are sparse: a page exists only once touched, and a page never written reads as
// zeros without storage, so a 1 TiB mapping costs nothing until used.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>

#include "../result.h"
#include "../types.h"
#include "vma.h"

namespace kvmsim {

// TASK_SIZE_MAX on x86-64 with 4-level paging: the top user page is a guard page.
inline constexpr std::uint64_t TASK_SIZE_MAX = 0x7ffffffff000ULL;

struct HostPage {
    Pfn pfn;
    bool hwpoison = false;
    std::unique_ptr<std::array<std::uint8_t, PAGE_SIZE>> bytes;  // null: all zeros
    // The VMA the page was last found in, valid while vma_gen is HostMm's page_ref_gen_: a
    // resident page is found through the hash alone, as GUP-fast finds it through the host page
    // table without the VMA tree.
    const vm_area_struct* vma = nullptr;
    std::uint64_t vma_gen = 0;
};

enum class GupError { Fault, Hwpoison };

// The gup_flags of mm/gup.c that the model's callers pass.
struct GupFlags {
    bool write = false;     // FOLL_WRITE
    bool force = false;     // FOLL_FORCE: a debugger's access, past the mapping's protection
    bool longterm = false;  // FOLL_LONGTERM (pin_user_pages for a memslot lock)
};

// models check_vma_flags(), mm/gup.c: 0 or EFAULT for a GUP of this VMA with these flags.
[[nodiscard]] KvmResult check_vma_flags(const vm_area_struct& vma, GupFlags flags);

// Result of pinning one host page the way get_user_pages() does.
struct GupResult {
    std::optional<Pfn> pfn;
    std::optional<GupError> error;
};

class HostMm {
public:
    HostMm() = default;
    HostMm(const HostMm&) = delete;  // page_refs_ point into pages_ and vmas_
    HostMm& operator=(const HostMm&) = delete;
    // mmap(hva, size, prot, MAP_FIXED_NOREPLACE | kind); returns 0 or the errno mmap() gives.
    KvmResult mmap(Hva hva, std::uint64_t size, Prot prot, MappingKind kind, const std::string& name);
    KvmResult munmap(Hva hva, std::uint64_t size);
    KvmResult mprotect(Hva hva, std::uint64_t size, Prot prot);
    // madvise(MADV_HWPOISON) on the page holding hva.
    KvmResult madvise_hwpoison(Hva hva);

    [[nodiscard]] const vm_area_struct* find_vma(Hva hva) const;

    // get_user_pages() on one page: faults the page in; fails on a missing mapping, missing
    // permission, or a poisoned page. VM_PFNMAP mappings are not handled here (no struct page).
    GupResult get_user_page(Hva hva, bool write);

    // copy_from_user / copy_to_user as the kernel does them: honour the mapping's protection,
    // and fail on a hole or a poisoned page. Returns true when every byte was copied.
    bool copy_from_user(Hva hva, std::span<std::uint8_t> out);
    bool copy_to_user(Hva hva, std::span<const std::uint8_t> in);

    // A debugger's access (/proc/PID/mem: GUP with FOLL_FORCE): past the protection of a
    // private mapping (a write breaks copy-on-write), but never a write to a shared mapping
    // without write permission; EFAULT on a hole or a refused page, EIO on poison. Like the
    // kernel it copies page by page, so the pages before a refused one are written.
    KvmResult access_remote(Hva hva, std::span<std::uint8_t> buf, bool write);
    // The CPU's access to the pages behind a mapping through a stage-2/EPT entry that already
    // maps them: the host VMA's protection is not consulted (it was when the entry was made).
    // False on a hole or a poisoned page.
    bool access_mapped(Hva hva, std::span<std::uint8_t> buf, bool write);

    // The pfn backing a present page of a PFNMAP mapping (follow_pfnmap_start).
    [[nodiscard]] Pfn pfnmap_pfn(const vm_area_struct& vma, Hva hva) const;

    [[nodiscard]] std::size_t resident_pages() const { return pages_.size(); }
    [[nodiscard]] const std::map<std::uint64_t, vm_area_struct>& vmas() const { return vmas_; }

private:
    enum class Access { Read, Write, Debug };
    bool copy(Hva hva, std::uint8_t* buf, std::size_t len, Access access, bool to_memory);
    HostPage& fault_in(Hva page);

    void split_at(Hva hva);
    // The end of the gap-free run of VMAs from `start` (start itself if it is unmapped), at most end.
    [[nodiscard]] Hva mapped_prefix_end(Hva start, Hva end) const;

    // A page's VMA and, if resident, its HostPage: what GUP and user copies look up for every
    // access. Direct-mapped by page number so a walk's few pages and a guest's working set are
    // answered without the VMA tree or the page hash (get_user_pages() on a present page then
    // costs a compare); entries of an older generation are empty. Nodes of pages_ and vmas_
    // stay put across inserts, so only a change that erases or reshapes a VMA or erases a page
    // must call invalidate_page_refs().
    struct PageRef {
        std::uint64_t hva = 0;
        std::uint64_t gen = 0;  // valid while equal to page_ref_gen_
        const vm_area_struct* vma = nullptr;
        HostPage* page = nullptr;  // null: not resident (reads as zeros)
    };
    static constexpr std::size_t kPageRefs = 512;
    PageRef& page_ref(std::uint64_t page) const;
    [[nodiscard]] const vm_area_struct* vma_lookup(Hva hva) const;
    void invalidate_page_refs() { ++page_ref_gen_; }

    std::map<std::uint64_t, vm_area_struct> vmas_;             // by vm_start
    std::unordered_map<std::uint64_t, HostPage> pages_;         // by page-aligned hva
    mutable std::array<PageRef, kPageRefs> page_refs_{};
    std::uint64_t page_ref_gen_ = 1;
    std::uint64_t next_pfn_ = 0x100;                            // pfn 0..0xff left unused
    std::uint64_t next_pfnmap_base_ = std::uint64_t{1} << 36;   // device pfns: high, apart from RAM
};

}  // namespace kvmsim
