// A guest access by virtual address on arm64 with the MMU on: the CPU's stage-1 walk, each of
// its descriptor reads a stage-2 access flagged S1PTW (which KVM may have to fault in), then
// the access itself at the IPA the walk produced.
#pragma once

#include "guest_access.h"
#include "stage1.h"

namespace kvmsim {

// A stage-1 fault is the guest's own: the CPU takes it to EL1 without KVM (a data or instruction
// abort with the walk's FSC and FAR = the VA). A stage-2 fault on a descriptor read is KVM's:
// kvm_handle_guest_abort() with ESR_EL2.S1PTW set (arch/arm64/kvm/mmu.c).
// The CPU's stage-1 walk for an access of `kind` at `va`, each descriptor read through stage 2
// (arm64_guest_access() with S1PTW); the events of a read that did not complete go to `res`.
Arm64WalkResult arm64_guest_walk(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64Stage1Regs& regs, Gva va, Arm64AccessKind kind, Arm64GuestAccessResult& res);

Arm64GuestAccessResult arm64_gva_access(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64Stage1Regs& regs, Gva va, Arm64GuestAccess access);

}  // namespace kvmsim
