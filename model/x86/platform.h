// How the host runs the guest (the contract's vm.platform). A platform is not a kernel version:
// it is hardware and configuration, and each difference is an option read at its decision point.
#pragma once

#include <optional>
#include <string_view>

#include "../host/host_description.h"

namespace kvmsim {

enum class Platform { Vmx, Svm, VmxShadow, Pvm };

enum class VmType { Default, SevEs, Snp, Tdx };

struct PlatformOptions {
    // KVM_CAP_MULTI_ADDRESS_SPACE: CONFIG_KVM_SMM gives x86 a second (SMM) address space.
    bool smm_address_space;
    // Every guest instruction goes through KVM's emulator (the PVM flavour here): guest memory is
    // reached with kvm_vcpu_read/write_guest, and a failed host copy becomes KVM_EXIT_MMIO
    // instead of the hardware fault path's -EFAULT (reference section 4.4, probes G14-G21).
    bool emulates_every_access;
    // EPT/NPT on: kvm_mmu_max_gfn() follows the host MAXPHYADDR; off (shadow paging): 52 bits.
    bool tdp;
    unsigned host_maxphyaddr;
    // madvise(MADV_HWPOISON) works (CONFIG_MEMORY_FAILURE); on the PVM hosts here it is EINVAL.
    bool hwpoison_injection;
};

[[nodiscard]] PlatformOptions platform_options(Platform p);
[[nodiscard]] std::string_view to_string(Platform p);
[[nodiscard]] std::optional<Platform> platform_from_string(std::string_view name);
[[nodiscard]] std::string_view to_string(VmType t);
[[nodiscard]] std::optional<VmType> vm_type_from_string(std::string_view name);
// The UAPI number KVM_CREATE_VM takes for the type (KVM_X86_*_VM).
[[nodiscard]] int kvm_x86_vm_type(VmType t);
// Whether KVM_CREATE_VM accepts the type on this platform (KVM_CAP_VM_TYPES).
[[nodiscard]] bool platform_supports(Platform p, VmType t);
// The same on a described host: its kvm_caps.supported_vm_types where known (QEMU's TCG machine
// has SVM but no SEV, so only the default type), else the platform's.
[[nodiscard]] bool host_supports_vm_type(Platform p, const HostDescription& host, VmType t);

}  // namespace kvmsim
