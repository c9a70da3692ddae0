// gfn -> memslot lookups (issue 12, item 2): the model's gfn_to_memslot() when its
// last_used_slot cache hits, when it misses and the table is searched, and when no slot holds
// the gfn; against a plain sorted-array search and the pre-5.17 kernel's array in the same run.
// Gfns come from a precomputed ring so the generator is not what gets timed.
#include <benchmark/benchmark.h>

#include <array>

#include "baselines.h"
#include "bench_vm.h"

using namespace kvmsim;
using namespace kvmsim::bench;

namespace {

constexpr std::size_t kRing = 4096;

// Gfns in random slots (hit = false: in the hole after a random slot).
std::array<Gfn, kRing> random_gfns(std::uint64_t nslots, bool hit) {
    std::array<Gfn, kRing> out{};
    Lcg rng;
    for (auto& g : out) g = hit ? gfn_in_slot(rng.next() % nslots, rng.next()) : gfn_in_hole(rng.next() % nslots, rng.next());
    return out;
}

void slot_args(benchmark::internal::Benchmark* b) {
    for (int n : {10, 16, 1024, 32764}) b->Arg(n);
}

// Every lookup lands in another slot than the last one: last_used_slot misses, search_memslots() runs.
void BM_Model_CacheMiss(benchmark::State& state) {
    BenchVm vm(static_cast<std::uint32_t>(state.range(0)));
    const auto gfns = random_gfns(static_cast<std::uint64_t>(state.range(0)), true);
    std::size_t i = 0;
    for (auto _ : state) {
        vm.k.memslots(0).last_used_slot = nullptr;  // a random slot may repeat; keep every lookup a miss
        benchmark::DoNotOptimize(vm.k.gfn_to_memslot(gfns[i++ % kRing]));
    }
}
BENCHMARK(BM_Model_CacheMiss)->Apply(slot_args);

// The gfn is in no slot: the search runs to the end and finds nothing.
void BM_Model_NoSlot(benchmark::State& state) {
    BenchVm vm(static_cast<std::uint32_t>(state.range(0)));
    const auto gfns = random_gfns(static_cast<std::uint64_t>(state.range(0)), false);
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(vm.k.gfn_to_memslot(gfns[i++ % kRing]));
}
BENCHMARK(BM_Model_NoSlot)->Apply(slot_args);

// Pages of the slot the last lookup found: last_used_slot answers.
void BM_Model_CacheHit(benchmark::State& state) {
    BenchVm vm(static_cast<std::uint32_t>(state.range(0)));
    std::array<Gfn, kRing> gfns{};
    Lcg rng;
    const std::uint64_t s = static_cast<std::uint64_t>(state.range(0)) / 2;
    for (auto& g : gfns) g = gfn_in_slot(s, rng.next());
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(vm.k.gfn_to_memslot(gfns[i++ % kRing]));
}
BENCHMARK(BM_Model_CacheHit)->Apply(slot_args);

// The per-vCPU cache (kvm_vcpu_gfn_to_memslot()): what the walker and the fault path use.
void BM_Model_VcpuCacheHit(benchmark::State& state) {
    BenchVm vm(static_cast<std::uint32_t>(state.range(0)));
    std::array<Gfn, kRing> gfns{};
    Lcg rng;
    const std::uint64_t s = static_cast<std::uint64_t>(state.range(0)) / 2;
    for (auto& g : gfns) g = gfn_in_slot(s, rng.next());
    kvm_vcpu& v = vm.vcpu();
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(vm.k.vcpu_gfn_to_memslot(v, gfns[i++ % kRing]));
}
BENCHMARK(BM_Model_VcpuCacheHit)->Apply(slot_args);

// Baseline: std::upper_bound over a sorted array of bases.
void BM_Baseline_SortedArray(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    SortedArray a;
    for (std::uint64_t s = 0; s < n; ++s) {
        a.base.push_back(gfn_in_slot(s, 0).value());
        a.end.push_back(gfn_in_slot(s, 0).value() + 512);
    }
    const auto gfns = random_gfns(n, true);
    std::size_t i = 0;
    for (auto _ : state) benchmark::DoNotOptimize(a.find(gfns[i++ % kRing].value()));
}
BENCHMARK(BM_Baseline_SortedArray)->Apply(slot_args);

// Baseline: the pre-5.17 kernel's search_memslots(), its lru slot missing.
void BM_Baseline_Pre517Array(benchmark::State& state) {
    const auto n = static_cast<std::uint64_t>(state.range(0));
    Pre517Memslots m;
    m.memslots = std::make_unique<Pre517Slot[]>(n);
    for (std::uint64_t s = 0; s < n; ++s) {
        Pre517Slot& slot = m.memslots[n - 1 - s];  // descending base_gfn
        slot.base_gfn = gfn_in_slot(s, 0).value();
        slot.npages = 512;
        slot.id = static_cast<std::int16_t>(s);
    }
    m.used_slots = static_cast<int>(n);
    const auto gfns = random_gfns(n, true);
    std::size_t i = 0;
    for (auto _ : state) {
        m.last_used_slot = 0;
        benchmark::DoNotOptimize(m.search_memslots(gfns[i++ % kRing].value()));
    }
}
BENCHMARK(BM_Baseline_Pre517Array)->Apply(slot_args);

}  // namespace
