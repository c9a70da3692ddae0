// How large a stage-2 mapping user_mem_abort() makes for a fault: a page, or a 2M block when
// the host backs the memslot with a hugetlb huge page and the memslot can hold the block.
#pragma once

#include <cstdint>

#include "../host/host_mm.h"
#include "../host/vma.h"
#include "../kvm/memslot.h"
#include "../types.h"

namespace kvmsim {

// models fault_supports_stage2_huge_mapping(), arch/arm64/kvm/mmu.c
[[nodiscard]] bool fault_supports_stage2_huge_mapping(const kvm_memory_slot& slot, Hva hva, std::uint64_t map_size);

// models the vma_pagesize choice of user_mem_abort(), arch/arm64/kvm/mmu.c: get_vma_page_shift()
// (the huge page size of a hugetlb VMA, else PAGE_SIZE), PAGE_SIZE while the slot logs dirty
// pages (force_pte), and PAGE_SIZE where fault_supports_stage2_huge_mapping() says no. A
// transparent huge page is transparent_hugepage_adjust()'s, applied after this.
[[nodiscard]] std::uint64_t stage2_vma_pagesize(const kvm_memory_slot& slot, const vm_area_struct* vma, Hva hva, bool logging);

// models transparent_hugepage_adjust(), arch/arm64/kvm/mmu.c: a 2M block where the slot can hold
// one and the host maps hva with a PMD-size transparent huge page (get_user_mapping_size()),
// else PAGE_SIZE. The caller applies it only to a page-size, non-device, non-logging fault.
[[nodiscard]] std::uint64_t transparent_hugepage_adjust(const kvm_memory_slot& slot, const HostMm& mm, Hva hva);

}  // namespace kvmsim
