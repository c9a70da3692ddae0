// Translations and page walks (issue 12, item 2). A translation is what the fault path does for
// a gfn: kvm_vcpu_gfn_to_memslot(), then __gfn_to_pfn_memslot() down to get_user_pages(); gfns
// land on the first page of random slots, so the vCPU's one-slot cache mostly misses and the
// host pages are present (one per slot: the working set grows with the table). A walk is KVM's software
// walk of 4-level guest page tables (walk_addr_generic()) whose A/D bits are already set, so
// it only reads: four PTE reads, each a slot lookup, an hva translation and a user copy.
#include <benchmark/benchmark.h>

#include <array>
#include <span>

#include "bench_vm.h"
#include "model/kvm/translate.h"
#include "model/x86/gva_access.h"
#include "model/x86/walker.h"

using namespace kvmsim;
using namespace kvmsim::bench;

namespace {

constexpr std::size_t kRing = 4096;

void BM_Model_Translate(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    BenchVm vm(static_cast<std::uint32_t>(n));
    std::array<Gfn, kRing> gfns{};
    Lcg rng;
    for (auto& g : gfns) g = gfn_in_slot(rng.next() % n, 0);  // one page a slot, made present below
    kvm_vcpu& v = vm.vcpu();
    for (const Gfn g : gfns) (void)gfn_to_pfn_memslot_inner(vm.k, vm.k.vcpu_gfn_to_memslot(v, g), g, {.write = true});
    std::size_t i = 0;
    for (auto _ : state) {
        const Gfn g = gfns[i++ % kRing];
        const PfnLookup p = gfn_to_pfn_memslot_inner(vm.k, vm.k.vcpu_gfn_to_memslot(v, g), g, {.write = true});
        benchmark::DoNotOptimize(p.pfn);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Model_Translate)->Arg(16)->Arg(32764);

// 4-level tables in slot 1 (gpa 4 MiB: PML4, PDPT, PD, PT) mapping gva [0, 2 MiB) onto slot 0.
struct WalkVm : BenchVm {
    X86PagingState st;
    GuestCpuid cpuid = guest_cpuid(Platform::Pvm);
    static constexpr std::uint64_t kPt = kSlotStride;  // slot 1's first page
    explicit WalkVm(std::uint32_t nslots) : BenchVm(nslots) {
        using namespace x86;
        const std::uint64_t table = PTE_P | PTE_W | PTE_U | PTE_A;
        put(kPt, (kPt + 0x1000) | table);
        put(kPt + 0x1000, (kPt + 0x2000) | table);
        put(kPt + 0x2000, (kPt + 0x3000) | table);
        for (std::uint64_t p = 0; p < 512; ++p) put(kPt + 0x3000 + p * 8, (p << PAGE_SHIFT) | PTE_P | PTE_W | PTE_A | PTE_D);
        st.cr0 = CR0_PG | CR0_WP | CR0_PE;
        st.cr3 = kPt;
        st.cr4 = CR4_PAE;
        st.efer = EFER_LME | EFER_LMA | EFER_NXE;
    }
    void put(std::uint64_t gpa, std::uint64_t v) {
        (void)mm.access_remote(slot_hva(1) + (gpa - kPt), std::span(reinterpret_cast<std::uint8_t*>(&v), 8), true);
    }
};

void BM_Model_Walk(benchmark::State& state) {
    WalkVm vm(static_cast<std::uint32_t>(state.range(0)));
    kvm_vcpu& v = vm.vcpu();
    Lcg rng;
    std::array<Gva, kRing> gvas{};
    for (auto& g : gvas) g = Gva((rng.next() % 512) << PAGE_SHIFT);
    if (walk_addr_generic(vm.k, v, vm.st, vm.cpuid, gvas[0], {}).fault) state.SkipWithError("the benchmark's tables fault");
    std::size_t i = 0;
    for (auto _ : state) {
        const guest_walker w = walk_addr_generic(vm.k, v, vm.st, vm.cpuid, gvas[i++ % kRing], {});
        benchmark::DoNotOptimize(w.gpa);
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(BM_Model_Walk)->Arg(16)->Arg(32764);

}  // namespace
