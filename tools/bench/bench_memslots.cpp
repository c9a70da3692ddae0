// Memslot table at kernel scale: create 32764 slots, then look gfns up. The reported ratio of
// the last create to the first shows whether creation stays O(log n) as the table fills.
#include <benchmark/benchmark.h>

#include "model/kvm/kvm.h"
#include "model/kvm/translate.h"
#include "model/x86/x86_arch.h"

using namespace kvmsim;

namespace {

std::unique_ptr<kvm> make_vm(HostMm& mm) {
    return std::make_unique<kvm>(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Pvm, VmType::Default));
}

void BM_CreateAllSlots(benchmark::State& state) {
    for (auto _ : state) {
        HostMm mm;
        auto vm = make_vm(mm);
        for (std::uint32_t slot = 0; slot < 32764; ++slot) {
            const KvmResult r = vm->set_user_memory_region({slot, 0, std::uint64_t{slot} << 21, 2u << 20, 0x7f0000000000ULL});
            if (!r.is_ok()) state.SkipWithError("create failed");
        }
    }
    state.SetItemsProcessed(state.iterations() * 32764);
}
BENCHMARK(BM_CreateAllSlots)->Unit(benchmark::kMillisecond);

void BM_GfnLookupFullTable(benchmark::State& state) {
    HostMm mm;
    auto vm = make_vm(mm);
    for (std::uint32_t slot = 0; slot < 32764; ++slot)
        (void)vm->set_user_memory_region({slot, 0, std::uint64_t{slot} << 21, 2u << 20, 0x7f0000000000ULL});
    std::uint64_t gfn = 0;
    for (auto _ : state) {
        gfn = (gfn * 6364136223846793005ULL + 1442695040888963407ULL);
        benchmark::DoNotOptimize(gfn_to_hva(*vm, Gfn((gfn >> 20) % (32764ULL << 9))));
    }
}
BENCHMARK(BM_GfnLookupFullTable);

void BM_GfnLookupOneSlot(benchmark::State& state) {
    HostMm mm;
    auto vm = make_vm(mm);
    (void)vm->set_user_memory_region({0, 0, 0, 2u << 20, 0x7f0000000000ULL});
    std::uint64_t gfn = 0;
    for (auto _ : state) {
        gfn = (gfn + 1) % 512;
        benchmark::DoNotOptimize(gfn_to_hva(*vm, Gfn(gfn)));
    }
}
BENCHMARK(BM_GfnLookupOneSlot);

}  // namespace

BENCHMARK_MAIN();
