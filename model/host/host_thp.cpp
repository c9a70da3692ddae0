// Transparent huge pages on the anonymous fault path: a PMD-size page for an aligned 2M range,
// the huge zero page for a read, and the split back to pages.
#include "host_mm.h"

namespace kvmsim {
namespace {

constexpr std::uint64_t kPmdSize = std::uint64_t{1} << HPAGE_PMD_SHIFT;
constexpr std::uint64_t kPmdPages = kPmdSize / PAGE_SIZE;

}  // namespace

// models do_huge_pmd_anonymous_page() and the THP checks of __handle_mm_fault(), mm/huge_memory.c
bool HostMm::thp_fault(const vm_area_struct& vma, std::uint64_t page_hva, bool write) {
    // hugepage_vma_check(): the mode allows it (madvise needs VM_HUGEPAGE, which no step sets
    // yet), a private anonymous VMA (hugetlb has its own path; a userfaultfd-registered range
    // is left to the page-sized handler here).
    if (thp_mode_ != ThpMode::Always) return false;
    if (vma.kind != MappingKind::Anonymous || vma.backing != Backing::Anonymous || vma.uffd) return false;
    // thp_vma_suitable_order(): the aligned 2M must lie inside the VMA.
    const std::uint64_t start = page_hva & ~(kPmdSize - 1);
    if (start < vma.vm_start.value() || start + kPmdSize > vma.vm_end.value()) return false;
    // pmd_none(): a range where a page is already mapped has a page table, and stays with pages.
    if (thp_.contains(start)) return false;
    for (std::uint64_t i = 0; i < kPmdPages; ++i)
        if (pages_.contains(start + i * PAGE_SIZE)) return false;
    // A read maps the huge zero page (transparent_hugepage_use_zero_page(), on by default); a
    // write allocates a huge page of its own, the 512 pfns contiguous and aligned.
    std::uint64_t base;
    if (!write) {
        if (!huge_zero_pfn_) {
            next_pfn_ = (next_pfn_ + kPmdPages - 1) & ~(kPmdPages - 1);
            huge_zero_pfn_ = next_pfn_;
            next_pfn_ += kPmdPages;
        }
        base = *huge_zero_pfn_;
    } else {
        next_pfn_ = (next_pfn_ + kPmdPages - 1) & ~(kPmdPages - 1);
        base = next_pfn_;
        next_pfn_ += kPmdPages;
    }
    for (std::uint64_t i = 0; i < kPmdPages; ++i) {
        HostPage& p = pages_[start + i * PAGE_SIZE];
        p.pfn = Pfn(base + i);
        p.zero_page = !write;
    }
    thp_.emplace(start, !write);
    invalidate_page_refs();  // the cached "not resident" answers of the 2M range
    return true;
}

// models __split_huge_pmd(), mm/huge_memory.c
void HostMm::split_thp(std::uint64_t lo, std::uint64_t hi) {
    if (thp_.empty() || lo >= hi) return;
    auto it = thp_.upper_bound(lo);
    if (it != thp_.begin() && std::prev(it)->first + kPmdSize > lo) --it;
    while (it != thp_.end() && it->first < hi) it = thp_.erase(it);
}

// models get_user_mapping_size(), arch/arm64/kvm/mmu.c
std::uint64_t HostMm::get_user_mapping_size(Hva hva) const {
    return thp_.contains(hva.value() & ~(kPmdSize - 1)) ? kPmdSize : PAGE_SIZE;
}

}  // namespace kvmsim
