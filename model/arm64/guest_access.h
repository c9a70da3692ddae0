// A guest load, store or instruction fetch on an arm64 vCPU, run through stage 2: what the
// hardware does when the page is mapped, and KVM's abort handling when it is not.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "../kvm/kvm.h"
#include "../kvm/run.h"
#include "arm64_arch.h"
#include "stage1.h"

namespace kvmsim {

// The instruction behind a data access when it is more than one load or store. Both kinds below
// report ESR_EL2.ISV = 0 (they are not single-register loads or stores), so io_mem_abort() can
// only refuse them.
enum class Arm64DataOp {
    LoadStore,
    // CAS/CASAL (FEAT_LSE): reads, compares with `compare`, writes `data` if equal. It needs read
    // and write permission at stage 2; ESR_ELx.WnR is 0 when a read would take the fault being
    // reported (no stage-2 entry at all), 1 when only the write does (Arm ARM, ISS WnR).
    CompareAndSwap,
    // DC ZVA: zeroes the naturally aligned block of `zva_block` bytes holding the address. A
    // store for every check (WnR = 1); not cache maintenance (ESR_ELx.CM = 0).
    ZeroBlock,
};

struct Arm64GuestAccess {
    Gpa ipa;
    unsigned size = 4;  // 1, 2, 4 or 8
    Arm64AccessKind kind = Arm64AccessKind::Read;
    std::uint64_t data = 0;                    // a store's value, little-endian
    std::array<std::uint8_t, 8> mmio_reply{};  // what userspace answers to an MMIO load
    // ESR_EL2.ISV: the syndrome describes the access (a single-register load or store). Load/store
    // pair, writeback addressing and SIMD register transfers give ISV = 0.
    bool isv = true;
    // ESR_EL2.S1PTW: the access is the guest's own stage-1 page-table walker.
    bool s1ptw = false;
    // FAR_EL2 when it differs from the IPA: the virtual address of an access made with the MMU
    // on (for a stage-1 walk, the VA being translated). KVM injects aborts with it.
    std::optional<Gva> far;
    // With s1ptw: the walk translates an instruction fetch's address (the abort is an IABT).
    bool walk_for_fetch = false;
    // ESR_EL2.CM: a cache maintenance instruction by VA (DC CIVAC). It reports WnR = 1 and
    // ISV = 0, needs only read permission at stage 2, and moves no data (kind is Write).
    bool cache_maintenance = false;
    Arm64DataOp op = Arm64DataOp::LoadStore;  // with kind Write for both others
    std::uint64_t compare = 0;                // CAS: the expected value (Xs)
    unsigned zva_block = 64;                  // DC ZVA: 4 << DCZID_EL0.BS bytes
};

// ESR_ELx.FSC class of a stage-2 abort: no entry at all, or an entry lacking the permission.
enum class Stage2FaultKind { Translation, Permission };

struct Arm64GuestAccessResult {
    GuestAccessResult run;  // a CAS's data: the value it read (what Xs holds after)
    bool stage2_fault = false;  // the access trapped to KVM (a stage-2 abort), or the CPU did it alone
    std::optional<Gpa> s1_leaf;  // with the MMU on: where the walk found the leaf descriptor
};

// ESR_ELx.EC of the aborts KVM injects into a guest running at EL1.
inline constexpr std::uint8_t ESR_ELx_EC_UNKNOWN = 0x00;  // an Undefined Instruction exception
inline constexpr std::uint8_t ESR_ELx_EC_IABT_CUR = 0x21;
inline constexpr std::uint8_t ESR_ELx_EC_DABT_CUR = 0x25;

// KVM_RUN for one access: kvm_arch_vcpu_ioctl_run(), arch/arm64/kvm/arm.c, then the abort path.
Arm64GuestAccessResult arm64_guest_access(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64GuestAccess& access);

// models kvm_arch_vcpu_ioctl_vcpu_init(), arch/arm64/kvm/arm.c
KvmResult kvm_arch_vcpu_ioctl_vcpu_init(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu);

}  // namespace kvmsim
