#include "stage2_huge.h"

namespace kvmsim {

bool fault_supports_stage2_huge_mapping(const kvm_memory_slot& slot, Hva hva, std::uint64_t map_size) {
    if (map_size == PAGE_SIZE) return true;
    const std::uint64_t gpa_start = slot.base_gfn.value() << PAGE_SHIFT;
    const std::uint64_t uaddr_start = slot.userspace_addr.value();
    const std::uint64_t uaddr_end = uaddr_start + slot.npages * PAGE_SIZE;
    // The IPA and the host address must sit at the same offset within a block...
    if ((gpa_start & (map_size - 1)) != (uaddr_start & (map_size - 1))) return false;
    // ... and the whole block must lie inside the memslot.
    const std::uint64_t block = hva.value() & ~(map_size - 1);
    return block >= uaddr_start && block + map_size <= uaddr_end;
}

std::uint64_t stage2_vma_pagesize(const kvm_memory_slot& slot, const vm_area_struct* vma, Hva hva, bool logging) {
    if (logging || !vma || vma->backing != Backing::Hugetlb || vma->is_pfnmap()) return PAGE_SIZE;
    const std::uint64_t huge = std::uint64_t{1} << HPAGE_PMD_SHIFT;  // PMD_SHIFT: a level-2 block
    return fault_supports_stage2_huge_mapping(slot, hva, huge) ? huge : PAGE_SIZE;
}

std::uint64_t transparent_hugepage_adjust(const kvm_memory_slot& slot, const HostMm& mm, Hva hva) {
    const std::uint64_t pmd = std::uint64_t{1} << HPAGE_PMD_SHIFT;
    if (!fault_supports_stage2_huge_mapping(slot, hva, pmd)) return PAGE_SIZE;
    return mm.get_user_mapping_size(hva) < pmd ? PAGE_SIZE : pmd;
}

}  // namespace kvmsim
