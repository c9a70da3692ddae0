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
    // A private anonymous page only read so far: the read fault mapped the shared zero page
    // (do_anonymous_page(), mm/memory.c); the first write fault gives it a page of its own.
    bool zero_page = false;
    std::unique_ptr<std::array<std::uint8_t, PAGE_SIZE>> bytes;  // null: all zeros
};

enum class GupError { Fault, Hwpoison };

// What madvise(MADV_HWPOISON) did: its return value, and whether memory_failure() sent the
// caller SIGBUS (BUS_MCEERR_AR) on the way.
struct HwpoisonResult {
    KvmResult result;
    bool sigbus = false;
};

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
    HostMm(const HostMm&) = delete;  // last_page_ points into pages_
    HostMm& operator=(const HostMm&) = delete;
    // mmap(hva, size, prot, MAP_FIXED_NOREPLACE | kind); returns 0 or the errno mmap() gives.
    KvmResult mmap(Hva hva, std::uint64_t size, Prot prot, MappingKind kind, const std::string& name);
    KvmResult munmap(Hva hva, std::uint64_t size);
    KvmResult mprotect(Hva hva, std::uint64_t size, Prot prot);
    // madvise(MADV_HWPOISON) on the page holding hva. action_required: the kernel's
    // madvise_inject_error() passes MF_ACTION_REQUIRED (mm patch, 6.11).
    HwpoisonResult madvise_hwpoison(Hva hva, bool action_required);

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
    HostPage& fault_in(Hva page, bool write);

    void split_at(Hva hva);
    // The end of the gap-free run of VMAs from `start` (start itself if it is unmapped), at most end.
    [[nodiscard]] Hva mapped_prefix_end(Hva start, Hva end) const;

    std::map<std::uint64_t, vm_area_struct> vmas_;             // by vm_start
    std::unordered_map<std::uint64_t, HostPage> pages_;         // by page-aligned hva
    // The page fault_in() returned last: GUP on a page already present (the common case in a
    // page walk) costs a compare, not a hash lookup. Nodes of pages_ stay put across rehashes;
    // munmap, the only eraser, drops it.
    std::uint64_t last_page_hva_ = 0;
    HostPage* last_page_ = nullptr;
    std::uint64_t next_pfn_ = 0x100;                            // pfn 0..0xff left unused
    // PG_hwpoison of the shared zero page: memory_failure() sets it before it ignores the page.
    bool zero_page_hwpoison_ = false;
    std::uint64_t next_pfnmap_base_ = std::uint64_t{1} << 36;   // device pfns: high, apart from RAM
};

}  // namespace kvmsim
