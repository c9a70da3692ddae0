// Stage-2 blocks over hugetlb memory: the mapping size user_mem_abort() picks, and how the
// model's stage-2 table keeps, splits and removes a block.
#include <doctest/doctest.h>

#include "model/arm64/stage2.h"
#include "model/arm64/stage2_huge.h"

using namespace kvmsim;

namespace {
constexpr std::uint64_t M2 = 2u << 20;

kvm_memory_slot slot_at(std::uint64_t gpa, std::uint64_t hva, std::uint64_t size) {
    kvm_memory_slot s;
    s.base_gfn = Gfn(gpa >> PAGE_SHIFT);
    s.npages = size >> PAGE_SHIFT;
    s.userspace_addr = Hva(hva);
    return s;
}

vm_area_struct vma(Backing b) {
    vm_area_struct v;
    v.vm_start = Hva(0x7f0000000000);
    v.vm_end = Hva(0x7f0000000000 + 4 * M2);
    v.backing = b;
    return v;
}
}  // namespace

TEST_SUITE("arm64") {
TEST_CASE("stage 2 over hugetlb: a block only where the slot can hold it, never while logging") {
    const vm_area_struct huge = vma(Backing::Hugetlb), anon = vma(Backing::Anonymous);
    const kvm_memory_slot aligned = slot_at(0x40000000, 0x7f0000000000, M2);
    CHECK(stage2_vma_pagesize(aligned, &huge, Hva(0x7f0000005000), false) == M2);
    CHECK(stage2_vma_pagesize(aligned, &huge, Hva(0x7f0000005000), true) == PAGE_SIZE);  // force_pte
    CHECK(stage2_vma_pagesize(aligned, &anon, Hva(0x7f0000005000), false) == PAGE_SIZE);  // no THP in the model
    // The hva 1M off the IPA's alignment: (gpa_start ^ uaddr_start) & (2M - 1) != 0.
    CHECK(stage2_vma_pagesize(slot_at(0x40000000, 0x7f0000100000, M2), &huge, Hva(0x7f0000105000), false) == PAGE_SIZE);
    // Aligned, but the slot is smaller than the block.
    CHECK_FALSE(fault_supports_stage2_huge_mapping(slot_at(0x40000000, 0x7f0000000000, M2 / 2), Hva(0x7f0000000000), M2));
    CHECK(fault_supports_stage2_huge_mapping(slot_at(0x40000000, 0x7f0000000000, M2 / 2), Hva(0x7f0000000000), PAGE_SIZE));
}

TEST_CASE("stage 2 blocks: relaxed whole, split by a page map, unmapped whole") {
    Stage2 s2;
    const Gfn first(0x40000);
    s2.map_block(first, 512, Stage2Pte{Hva(0x7f0000000000), Pfn(1000), Stage2Prot{.r = true}, false, 2});
    REQUIRE(s2.lookup(Gfn(0x401ff)));
    CHECK(s2.lookup(Gfn(0x401ff))->level == 2);
    CHECK(s2.lookup(Gfn(0x401ff))->hva == Hva(0x7f0000000000 + 0x1ff000));
    s2.relax(Gfn(0x40005), Stage2Prot{.w = true});
    CHECK(s2.lookup(Gfn(0x40000))->prot.w);  // the whole block
    // A page mapped into the block replaces it: only that page remains.
    s2.map(Gfn(0x40003), Stage2Pte{Hva(0x7f0000003000), Pfn(1003), Stage2Prot{.r = true}});
    CHECK(s2.lookup(Gfn(0x40003))->level == 3);
    CHECK_FALSE(s2.lookup(Gfn(0x40004)));
    CHECK(s2.translation_fault_level(Gfn(0x40004), 1) == 3);
    // An unmap of one page of a block takes the block.
    s2.map_block(Gfn(0x40200), 512, Stage2Pte{Hva(0x7f0000200000), Pfn(2000), Stage2Prot{.r = true}, false, 2});
    CHECK(s2.unmap(Gfn(0x40210), Gfn(0x40211)) == 512);
    CHECK_FALSE(s2.lookup(Gfn(0x40200)));
}
}
