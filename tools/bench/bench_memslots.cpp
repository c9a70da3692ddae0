// Memslot changes at table sizes 10 and 32764: one create + delete of a slot (and one move)
// in the model, in the pre-5.17 kernel's copy-the-whole-array design, and through the real
// KVM_SET_USER_MEMORY_REGION on /dev/kvm where it can be opened (skipped otherwise; on a
// machine shared with other /dev/kvm users, run it alone). KVMSIM_BENCH_NO_KVM=1 skips
// the real ioctl even where /dev/kvm exists (the CTest smoke run sets it).
// Filling the real table costs the host kernel vmalloc memory (reported as vmalloc_KiB_per_slot:
// 24 KiB a 2 MiB slot on this project's PVM host, 0.8 GiB for 32764); the fill stops if the
// machine's VmallocUsed grows by more than kMaxKernelVmallocKiB meanwhile, so the benchmark
// never pushes a shared machine into the OOM killer.
#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "baselines.h"
#include "bench_vm.h"

using namespace kvmsim;
using namespace kvmsim::bench;

namespace {

void size_args(benchmark::internal::Benchmark* b) { b->Arg(10)->Arg(32764); }

constexpr long kMaxKernelVmallocKiB = 2L << 20;  // 2 GiB: 32764 slots need 0.8

// VmallocUsed of /proc/meminfo, in KiB (0 if unreadable).
long vmalloc_used_kib() {
    std::FILE* f = std::fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    long v = 0;
    while (std::fgets(line, sizeof line, f))
        if (std::sscanf(line, "VmallocUsed: %ld kB", &v) == 1) break;
    std::fclose(f);
    return v;
}

// Slots fill the table but the last id; the timed one is created at the top of the gfn range.
void BM_Model_CreateDelete(benchmark::State& state) {
    const auto n = static_cast<std::uint32_t>(state.range(0));
    BenchVm vm(n - 1);
    const std::uint64_t gpa = std::uint64_t{n} * kSlotStride;
    for (auto _ : state) {
        benchmark::DoNotOptimize(vm.k.set_user_memory_region({n - 1, 0, gpa, kSlotBytes, kRamHva}));
        benchmark::DoNotOptimize(vm.k.set_user_memory_region({n - 1, 0, gpa, 0, kRamHva}));
    }
}
BENCHMARK(BM_Model_CreateDelete)->Apply(size_args);

// A slot in the middle of the table moves into the hole after it and back.
void BM_Model_MoveTwice(benchmark::State& state) {
    const auto n = static_cast<std::uint32_t>(state.range(0));
    BenchVm vm(n);
    const std::uint32_t s = n / 2;
    const std::uint64_t gpa = std::uint64_t{s} * kSlotStride;
    for (auto _ : state) {
        benchmark::DoNotOptimize(vm.k.set_user_memory_region({s, 0, gpa + kSlotBytes, kSlotBytes, slot_hva(s).value()}));
        benchmark::DoNotOptimize(vm.k.set_user_memory_region({s, 0, gpa, kSlotBytes, slot_hva(s).value()}));
    }
}
BENCHMARK(BM_Model_MoveTwice)->Apply(size_args);

// Baseline: kernels before 5.17 copy the whole array for every change.
void BM_Baseline_Pre517CreateDelete(benchmark::State& state) {
    const auto n = static_cast<std::uint32_t>(state.range(0));
    Pre517Memslots m;
    for (std::uint32_t s = 0; s + 1 < n; ++s) m.create({.base_gfn = gfn_in_slot(s, 0).value(), .npages = 512, .id = static_cast<std::int16_t>(s)});
    for (auto _ : state) {
        m.create({.base_gfn = gfn_in_slot(n, 0).value(), .npages = 512, .id = static_cast<std::int16_t>(n - 1)});
        m.remove(static_cast<std::int16_t>(n - 1));
        benchmark::DoNotOptimize(m.used_slots);
    }
}
BENCHMARK(BM_Baseline_Pre517CreateDelete)->Apply(size_args);

// Baseline: the host kernel's KVM_SET_USER_MEMORY_REGION, the same create + delete.
void BM_Kvm_CreateDelete(benchmark::State& state) {
    if (std::getenv("KVMSIM_BENCH_NO_KVM")) {
        state.SkipWithError("KVMSIM_BENCH_NO_KVM is set");
        return;
    }
    const int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) {
        state.SkipWithError("/dev/kvm cannot be opened");
        return;
    }
    const int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    const auto n = static_cast<std::uint32_t>(state.range(0));
    const long max_slots = vm < 0 ? 0 : ioctl(vm, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
    void* mem = mmap(nullptr, kSlotBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    auto region = [&](std::uint32_t slot, std::uint64_t gpa, std::uint64_t size) {
        ::kvm_userspace_memory_region r{slot, 0, gpa, size, reinterpret_cast<std::uint64_t>(mem)};
        return ioctl(vm, _IOW(KVMIO, 0x46, ::kvm_userspace_memory_region), &r);  // KVM_SET_USER_MEMORY_REGION
    };
    bool ok = vm >= 0 && mem != MAP_FAILED && max_slots >= static_cast<long>(n);
    const long vmalloc_before = vmalloc_used_kib();
    for (std::uint32_t s = 0; ok && s + 1 < n; ++s) {
        ok = region(s, std::uint64_t{s} * kSlotStride, kSlotBytes) == 0;
        if (s % 64 == 0 && vmalloc_used_kib() - vmalloc_before > kMaxKernelVmallocKiB) {
            state.SkipWithError("the host kernel's vmalloc use grew past 2 GiB while filling the table");
            ok = false;
        }
    }
    if (ok && n > 1) state.counters["vmalloc_KiB_per_slot"] = static_cast<double>(vmalloc_used_kib() - vmalloc_before) / (n - 1);
    if (!ok && !state.error_occurred()) state.SkipWithError("KVM_CREATE_VM or filling the table failed");
    const std::uint64_t gpa = std::uint64_t{n} * kSlotStride;
    for (auto _ : state) {
        if (!ok) break;
        benchmark::DoNotOptimize(region(n - 1, gpa, kSlotBytes));
        benchmark::DoNotOptimize(region(n - 1, gpa, 0));
    }
    if (mem != MAP_FAILED) munmap(mem, kSlotBytes);
    if (vm >= 0) close(vm);
    close(kvm);
}
BENCHMARK(BM_Kvm_CreateDelete)->Apply(size_args)->Unit(benchmark::kMicrosecond);

// Filling an empty table with 32764 slots, in ascending gfn order.
void BM_Model_CreateAllSlots(benchmark::State& state) {
    for (auto _ : state) {
        BenchVm vm(32764);
        benchmark::DoNotOptimize(vm.k.memslots(0).size());
    }
    state.SetItemsProcessed(state.iterations() * 32764);
}
BENCHMARK(BM_Model_CreateAllSlots)->Unit(benchmark::kMillisecond);

}  // namespace
