// How large a stage-2 mapping user_mem_abort() makes for a fault: a page, or a 2M block when
// the host backs the memslot with a hugetlb huge page and the memslot can hold the block.
#pragma once

#include <cstdint>

#include "../host/vma.h"
#include "../kvm/memslot.h"
#include "../types.h"

namespace kvmsim {

// models fault_supports_stage2_huge_mapping(), arch/arm64/kvm/mmu.c
[[nodiscard]] bool fault_supports_stage2_huge_mapping(const kvm_memory_slot& slot, Hva hva, std::uint64_t map_size);

// models the vma_pagesize choice of user_mem_abort(), arch/arm64/kvm/mmu.c: get_vma_page_shift()
// (the huge page size of a hugetlb VMA, else PAGE_SIZE), PAGE_SIZE while the slot logs dirty
// pages (force_pte), and PAGE_SIZE where fault_supports_stage2_huge_mapping() says no. THP
// (transparent_hugepage_adjust()) is not modelled: an anonymous VMA always gets pages.
[[nodiscard]] std::uint64_t stage2_vma_pagesize(const kvm_memory_slot& slot, const vm_area_struct* vma, Hva hva, bool logging);

}  // namespace kvmsim
