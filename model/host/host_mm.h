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
#include <utility>
#include <vector>

#include "../result.h"
#include "../types.h"
#include "host_description.h"
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
    // The VMA the page was last found in, valid while vma_gen is HostMm's page_ref_gen_: a
    // resident page is found through the hash alone, as GUP-fast finds it through the host page
    // table without the VMA tree.
    const vm_area_struct* vma = nullptr;
    std::uint64_t vma_gen = 0;
};

enum class GupError { Fault, Hwpoison };

// What madvise(MADV_HWPOISON) did: its return value, and whether memory_failure() sent the
// caller SIGBUS (BUS_MCEERR_AR) on the way.
struct HwpoisonResult {
    KvmResult result;
    bool sigbus = false;
};

// [start, end) in the VMM's address space.
struct HvaRange {
    Hva start{0};
    Hva end{0};
    [[nodiscard]] bool empty() const { return !(start < end); }
};

// fallocate()'s mode bits (include/uapi/linux/falloc.h) the model knows.
struct FallocMode {
    bool keep_size = false;   // FALLOC_FL_KEEP_SIZE
    bool punch_hole = false;  // FALLOC_FL_PUNCH_HOLE
};

// How the VMM's userfaultfd handler answers a MISSING fault: UFFDIO_COPY of a page holding
// `pattern` repeated (8 bytes, little-endian), or UFFDIO_ZEROPAGE.
// With `snapshot`, UFFDIO_COPY copies what the page held when the range was registered (as
// page_fault_test's handler does), zeros for a page not present then.
struct UffdServe {
    enum class How { Copy, ZeroPage } how = How::Copy;
    std::uint64_t pattern = 0;
    bool snapshot = false;
    // One UFFDIO_COPY per fault of the whole registered range from its start, as
    // page_fault_test's handler does (it stops at the first page already present, where
    // mfill_atomic() gives EEXIST; the faulting page is then copied on its own if still missing).
    bool whole_range = false;
};

// One userfaultfd context (struct userfaultfd_ctx, fs/userfaultfd.c) and its handler's count.
struct UffdCtx {
    Hva start{0};  // the registered range, as the step gave it
    std::uint64_t size = 0;
    UffdServe serve;
    std::uint64_t faults = 0;  // UFFD_EVENT_PAGEFAULT messages read and served
    // serve.snapshot: the content of each page present at registration, by page hva
    std::map<std::uint64_t, std::array<std::uint8_t, PAGE_SIZE>> snapshot;
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
    HostMm(const HostMm&) = delete;  // page_refs_ point into pages_ and vmas_
    HostMm& operator=(const HostMm&) = delete;
    // mmap(hva, size, prot, MAP_FIXED_NOREPLACE | kind); returns 0 or the errno mmap() gives.
    KvmResult mmap(Hva hva, std::uint64_t size, Prot prot, MappingKind kind, const std::string& name, Backing backing = Backing::Anonymous);
    KvmResult munmap(Hva hva, std::uint64_t size);
    KvmResult mprotect(Hva hva, std::uint64_t size, Prot prot);
    // madvise(MADV_HWPOISON) on the page holding hva. action_required: the kernel's
    // madvise_inject_error() passes MF_ACTION_REQUIRED (mm patch, 6.11).
    HwpoisonResult madvise_hwpoison(Hva hva, bool action_required);

    // madvise(hva, size, MADV_DONTNEED) (hole_punch.cpp): 0 or the errno; `zapped` gets the
    // range whose PTEs went (for the MMU notifier), empty when nothing was zapped.
    KvmResult madvise_dontneed(Hva hva, std::uint64_t size, HvaRange& zapped);
    // fallocate(fd of the memfd behind mapping `name`, mode, offset, len) (hole_punch.cpp).
    KvmResult fallocate(const std::string& name, FallocMode mode, std::uint64_t offset, std::uint64_t len, HvaRange& zapped);

    // userfaultfd(2) + UFFDIO_API + UFFDIO_REGISTER(MODE_MISSING) on [hva, hva + size), served
    // by a handler thread of the VMM as `serve` says (userfaultfd.cpp).
    KvmResult uffd_register(Hva hva, std::uint64_t size, UffdServe serve);
    // The page faults the handler of the registration that starts at hva has read; nullopt when
    // no registration starts there.
    [[nodiscard]] std::optional<std::uint64_t> uffd_faults(Hva hva) const;

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
    // The host's THP mode (HostDescription::transparent_hugepage); Never until set.
    void set_thp_mode(ThpMode mode) { thp_mode_ = mode; }
    // The size of the host page-table leaf mapping hva: a PMD (2M) for a transparent huge page,
    // else a page (host_thp.cpp).
    [[nodiscard]] std::uint64_t get_user_mapping_size(Hva hva) const;
    [[nodiscard]] const std::map<std::uint64_t, vm_area_struct>& vmas() const { return vmas_; }

private:
    enum class Access { Read, Write, Debug };
    bool copy(Hva hva, std::uint8_t* buf, std::size_t len, Access access, bool to_memory);
    HostPage& fault_in(Hva page, bool write);
    // A first touch of a missing page that a PMD-size transparent huge page may back: backs its
    // whole 2M range and returns true, or returns false (host_thp.cpp).
    bool thp_fault(const vm_area_struct& vma, std::uint64_t page_hva, bool write);
    // The huge page over [lo, hi) is split into pages (split_huge_pmd()): the 2M entries go.
    void split_thp(std::uint64_t lo, std::uint64_t hi);
    // A first touch of a missing page under a userfaultfd: the handler's answer (userfaultfd.cpp).
    void handle_userfault(const vm_area_struct& vma, std::uint64_t page_hva, HostPage& page);
    static void fill_from_uffd(const UffdCtx& ctx, std::uint64_t page_hva, HostPage& page);
    // The mmap a mapping name came from: its first address (vm_start - vm_pgoff), if mapped.
    [[nodiscard]] std::optional<std::pair<Hva, const vm_area_struct*>> mapping_origin(const std::string& name) const;

    void split_at(Hva hva);
    // Frees the pages of [lo, hi) (hole_punch.cpp): the next touch gets a new page.
    void drop_pages(std::uint64_t lo, std::uint64_t hi);
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
    std::vector<UffdCtx> uffds_;                                // id = index + 1
    std::uint64_t next_pfn_ = 0x100;                            // pfn 0..0xff left unused
    ThpMode thp_mode_ = ThpMode::Never;
    // The PMD-aligned hvas a transparent huge page backs, and whether it is the huge zero page.
    std::map<std::uint64_t, bool> thp_;
    std::optional<std::uint64_t> huge_zero_pfn_;  // the one huge zero page, once a read fault needed it
    // PG_hwpoison of the shared zero page: memory_failure() sets it before it ignores the page.
    bool zero_page_hwpoison_ = false;
    std::uint64_t next_pfnmap_base_ = std::uint64_t{1} << 36;   // device pfns: high, apart from RAM
};

}  // namespace kvmsim
