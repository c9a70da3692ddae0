// KVM_RUN for the VMM's loop on a modelled arm64 vCPU. The rest of the VMM's outside world (its
// VM fd, its own memory) is the same as on x86 (model_host.h).
#pragma once

#include "../arm64/arm64_arch.h"
#include "../kvm/kvm.h"
#include "vmm.h"

namespace kvmsim::vmm {

// The model runs the access whole (arm64_guest_access()), then hands its one MMIO exit to the
// VMM as the KVM_RUN that returned it, and completes the load with the VMM's answer.
[[nodiscard]] KvmRun model_arm64_kvm_run(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu);

}  // namespace kvmsim::vmm
