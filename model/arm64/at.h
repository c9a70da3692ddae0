// AT S1E1R: the guest asks the CPU for its own stage-1 translation of a VA. Only the walk touches
// memory (its descriptor reads are stage-2 accesses flagged S1PTW, ESR_EL2.CM = 1); the output
// address is never accessed, so only a page-table page can fault at stage 2. A stage-1 fault is
// no exception: it is reported in PAR_EL1.
#pragma once

#include <cstdint>
#include <optional>

#include "guest_access.h"
#include "stage1.h"

namespace kvmsim {

// The parts of PAR_EL1 the walk decides (Arm ARM, PAR_EL1): F, and PA[47:12] on success or FST
// (the stage-1 fault status) on a fault. ATTR and SH come from MAIR_EL1 and the implementation.
struct Arm64Par {
    bool f = false;
    Gpa pa;                // F = 0: the output address, page-aligned
    std::uint8_t fst = 0;  // F = 1: ESR-style fault status code
};

struct Arm64AtResult {
    Arm64GuestAccessResult access;  // events of a walk KVM could not complete (an injected abort, a failed KVM_RUN)
    std::optional<Arm64Par> par;    // set when the instruction retired
};

// The CPU's AT S1E1R at EL1, its S1PTW stage-2 faults handled by kvm_handle_guest_abort() (arch/arm64/kvm/mmu.c).
Arm64AtResult arm64_at_s1e1r(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64Stage1Regs& regs, Gva va);

}  // namespace kvmsim
