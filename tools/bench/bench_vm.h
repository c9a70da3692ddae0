// A model VM filled with n memslots for the benchmarks: slot i covers 2 MiB at gpa i * 4 MiB
// (so every other 2 MiB is a hole a lookup can miss in), each backed by its own host mapping.
#pragma once

#include <cstdint>
#include <memory>

#include "model/host/host_mm.h"
#include "model/kvm/kvm.h"
#include "model/x86/x86_arch.h"

namespace kvmsim::bench {

inline constexpr std::uint64_t kSlotBytes = 2u << 20;
inline constexpr std::uint64_t kSlotStride = 4u << 20;
inline constexpr std::uint64_t kRamHva = 0x7f0000000000ULL;

inline Hva slot_hva(std::uint64_t s) { return Hva(kRamHva + s * kSlotBytes); }

struct BenchVm {
    HostMm mm;
    kvm k;
    explicit BenchVm(std::uint32_t nslots)
        : k(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Pvm, VmType::Default)) {
        for (std::uint32_t s = 0; s < nslots; ++s) {
            (void)mm.mmap(slot_hva(s), kSlotBytes, Prot{.read = true, .write = true}, MappingKind::Anonymous, "ram");
            (void)k.set_user_memory_region({s, 0, std::uint64_t{s} * kSlotStride, kSlotBytes, slot_hva(s).value()});
        }
        (void)k.create_vcpu(0);
    }
    [[nodiscard]] kvm_vcpu& vcpu() { return *k.vcpu(0); }
};

// A cheap pseudo-random sequence (an LCG), so lookups do not follow a pattern the cache predicts.
struct Lcg {
    std::uint64_t x = 0x9e3779b97f4a7c15ULL;
    std::uint64_t next() {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        return x >> 17;
    }
};

// A gfn inside slot `s` (hit) or in the hole after it (miss).
inline Gfn gfn_in_slot(std::uint64_t s, std::uint64_t page) { return Gfn(((s * kSlotStride) >> PAGE_SHIFT) + page % 512); }
inline Gfn gfn_in_hole(std::uint64_t s, std::uint64_t page) { return Gfn(((s * kSlotStride + kSlotBytes) >> PAGE_SHIFT) + page % 512); }

}  // namespace kvmsim::bench
