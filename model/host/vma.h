// A host mapping in the VMM's address space (struct vm_area_struct, include/linux/mm_types.h).
#pragma once

#include <cstdint>
#include <string>

#include "../types.h"

namespace kvmsim {

struct Prot {
    bool read = false;
    bool write = false;
    bool exec = false;
    bool operator==(const Prot&) const = default;
};

enum class MappingKind {
    Anonymous,  // MAP_PRIVATE|MAP_ANONYMOUS
    Shared,     // MAP_SHARED (memfd, shm): same page semantics for the model
    PfnMap,     // VM_IO|VM_PFNMAP: device memory remapped with remap_pfn_range, no struct page
};

// What a MAP_SHARED mapping maps: anonymous shared memory (shmem with no fd the VMM can use),
// or a memfd (memfd_create(), shmem too) whose fd the VMM keeps for fallocate(). Hugetlb is a
// MAP_PRIVATE|MAP_HUGETLB mapping of 2M huge pages (is_vm_hugetlb_page()): a fault allocates
// the whole huge page, never the zero page.
enum class Backing { Anonymous, Memfd, Hugetlb };
inline constexpr unsigned HPAGE_PMD_SHIFT = 21;  // the default hugetlb size on a 4K arm64/x86 host

struct vm_area_struct {
    Hva vm_start;
    Hva vm_end;  // exclusive
    Prot prot;
    MappingKind kind = MappingKind::Anonymous;
    std::string name;         // the scenario's name of the mmap this piece came from
    std::uint64_t pgoff = 0;     // page index of vm_start within that mmap (vm_pgoff)
    std::uint64_t pfn_base = 0;  // VM_PFNMAP only: the device pfn of the mmap's first page
    // A MAP_SHARED mapping of a memfd the VMM holds: fallocate() reaches its pages (shmem).
    Backing backing = Backing::Anonymous;
    // vm_userfaultfd_ctx: 0, or the id of the userfaultfd registered on this range (MISSING mode).
    std::uint32_t uffd = 0;

    [[nodiscard]] bool contains(Hva hva) const { return hva >= vm_start && hva < vm_end; }
    [[nodiscard]] bool is_pfnmap() const { return kind == MappingKind::PfnMap; }
};

}  // namespace kvmsim
