// What differs between machines that run the same kernel: its configuration and the hardware
// KVM reports. Every value the model would otherwise have to assume about "the host" is a field
// here, read at the one place the kernel reads it. The defaults are the project's reference host
// (the 6.18 PVM machine of ../shared/reference, probe table C1); the kvm backend fills the struct
// from the machine it runs on (sim/kvm/host_platform), and a scenario may pin fields in
// vm.host (docs/scenarios.md).
#pragma once

#include <optional>

namespace kvmsim {

struct HostDescription {
    // CONFIG_KVM_GUEST_MEMFD: kvm_vm_ioctl_check_extension_generic() answers KVM_CAP_GUEST_MEMFD
    // with 1 only when it is built (6.18 selects it for SW_PROTECTED_VM, TDX and SEV; a kernel
    // without them answers 0). Reference host: 1; this project also has hosts answering 0.
    bool guest_memfd = true;
    // CPUID.80000008H:EAX[7:0] of KVM_GET_SUPPORTED_CPUID: the guest's MAXPHYADDR, which sets the
    // reserved bits the page walker checks. Unset: the platform's value (pvm 48; vmx, vmx-shadow
    // 46; svm 48: see guest_cpuid()).
    std::optional<unsigned> guest_maxphyaddr;
    // boot_cpu_data.x86_phys_bits: kvm_mmu_max_gfn() follows it when TDP is on. Unset: the
    // platform's value (PlatformOptions::host_maxphyaddr).
    std::optional<unsigned> host_maxphyaddr;
    // num_online_cpus(): KVM_CAP_NR_VCPUS answers min(online CPUs, KVM_MAX_VCPUS). Reference: 2.
    unsigned online_cpus = 2;
};

}  // namespace kvmsim
