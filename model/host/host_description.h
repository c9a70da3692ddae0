// What differs between machines that run the same kernel: its configuration and the hardware
// KVM reports. Every value the model would otherwise have to assume about "the host" is a field
// here, read at the one place the kernel reads it. The defaults are the project's reference host
// (the 6.18 PVM machine of ../shared/reference, probe table C1); the kvm backend fills the struct
// from the machine it runs on (sim/kvm/host_platform), and a scenario may pin fields in
// vm.host (docs/scenarios.md).
#pragma once

#include <optional>

namespace kvmsim {

// /sys/kernel/mm/transparent_hugepage/enabled: which anonymous VMAs a fault may back with a
// PMD-size transparent huge page (always: any; madvise: those given MADV_HUGEPAGE; never: none).
enum class ThpMode { Always, Madvise, Never };

struct HostDescription {
    // CONFIG_KVM_GUEST_MEMFD: kvm_vm_ioctl_check_extension_generic() answers KVM_CAP_GUEST_MEMFD
    // (and KVM_CAP_GUEST_MEMFD_FLAGS) only when it is built; a kernel without it answers 0.
    // Reference host: 1; this project also has a 6.18 pvm host answering 0 (probed).
    bool guest_memfd = true;
    // CONFIG_KVM_SMM: x86 gets its second (SMM) memslot address space, KVM_MAX_NR_ADDRESS_SPACES
    // is 2 and KVM_CAP_MULTI_ADDRESS_SPACE is compiled in. Unset: the platform's (pvm: no; vmx,
    // vmx-shadow, svm: yes).
    std::optional<bool> kvm_smm;
    // CPUID.80000008H:EAX[7:0] of KVM_GET_SUPPORTED_CPUID: the guest's MAXPHYADDR, which sets the
    // reserved bits the page walker checks. Unset: the platform's value (pvm 48; vmx, vmx-shadow
    // 46; svm 48: see guest_cpuid()).
    std::optional<unsigned> guest_maxphyaddr;
    // boot_cpu_data.x86_phys_bits: kvm_mmu_max_gfn() follows it when TDP is on. Unset: the
    // platform's value (PlatformOptions::host_maxphyaddr).
    std::optional<unsigned> host_maxphyaddr;
    // num_online_cpus(): KVM_CAP_NR_VCPUS answers min(online CPUs, KVM_MAX_VCPUS). Reference: 2.
    unsigned online_cpus = 2;
    // KVM_MAX_VCPUS (x86: CONFIG_KVM_MAX_NR_VCPUS since 6.8, a fixed 1024 before): KVM_CAP_MAX_VCPUS,
    // and KVM_MAX_VCPU_IDS = KVM_MAX_VCPUS * KVM_VCPU_ID_RATIO. Reference host: 1024 (Debian's
    // 6.12 amd64 kernel: 4096).
    unsigned max_vcpus = 1024;
    // CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES, selected by KVM_SW_PROTECTED_VM, KVM_AMD_SEV or
    // KVM_INTEL_TDX: kvm_vm_ioctl_check_extension_generic() answers KVM_CAP_MEMORY_ATTRIBUTES with
    // kvm_supported_mem_attributes(). Reference host: not built (C1: 0); Debian's 6.12: built.
    bool memory_attributes = false;
    // kvm_caps.supported_vm_types as a mask of 1 << KVM_X86_*_VM (KVM_CAP_VM_TYPES): the VM types
    // the vendor module enabled on this hardware. Unset: the platform's (svm: default, SEV-ES, SNP;
    // vmx: default, TDX). QEMU's TCG machine has no SEV: 1.
    std::optional<unsigned> vm_types;
    // CPUID.(EAX=7,ECX=0):ECX[16] (LA57) of KVM_GET_SUPPORTED_CPUID: without it kvm_is_valid_cr4()
    // refuses CR4.LA57 (__cr4_reserved_bits()). Unset: the platform's (pvm: no; vmx, svm: yes).
    std::optional<bool> guest_la57;
    // arm64: the vCPU's CPU features, as KVM's sanitised ID registers show them to the guest
    // (KVM_GET_ONE_REG on a vCPU). Unset: the arm64 platform's, every feature present. A
    // scenario needs one with "requires" (sim/requires.h) and can remove one in vm.host.
    // ID_AA64MMFR1_EL1.HAFDBS != 0: the walker may set the Access flag itself (TCR_EL1.HA).
    std::optional<bool> arm64_hafdbs;
    // ID_AA64ISAR0_EL1.Atomic >= 2: the LSE atomics (CAS, LDADD, SWP).
    std::optional<bool> arm64_lse;
    // DCZID_EL0.DZP == 0: DC ZVA is allowed at EL1.
    std::optional<bool> arm64_dc_zva;
    // 4 << DCZID_EL0.BS: the bytes DC ZVA zeroes. Unset: 64.
    std::optional<unsigned> arm64_dczva_block;
    // transparent_hugepage_flags' enabled bits (/sys/kernel/mm/transparent_hugepage/enabled):
    // whether an anonymous fault gets a 2M huge page, which arm64's user_mem_abort() then maps
    // as a stage-2 block (transparent_hugepage_adjust()). Reference host: madvise (read from
    // sysfs); Debian's 6.1 and 6.12 arm64 kernels booted under QEMU: always.
    ThpMode transparent_hugepage = ThpMode::Madvise;
};

}  // namespace kvmsim
