#include "platform.h"

namespace kvmsim {

PlatformOptions platform_options(Platform p) {
    switch (p) {
    case Platform::Vmx: return {.smm_address_space = true, .emulates_every_access = false, .tdp = true, .host_maxphyaddr = 46, .hwpoison_injection = true};
    case Platform::Svm: return {.smm_address_space = true, .emulates_every_access = false, .tdp = true, .host_maxphyaddr = 48, .hwpoison_injection = true};
    case Platform::VmxShadow: return {.smm_address_space = true, .emulates_every_access = false, .tdp = false, .host_maxphyaddr = 46, .hwpoison_injection = true};
    // Probed: KVM_CAP_MULTI_ADDRESS_SPACE = 0, MADV_HWPOISON = EINVAL, tdp_mmu=N, MAXPHYADDR 46.
    case Platform::Pvm: return {.smm_address_space = false, .emulates_every_access = true, .tdp = false, .host_maxphyaddr = 46, .hwpoison_injection = false};
    }
    return {};
}

std::string_view to_string(Platform p) {
    switch (p) {
    case Platform::Vmx: return "vmx";
    case Platform::Svm: return "svm";
    case Platform::VmxShadow: return "vmx-shadow";
    case Platform::Pvm: return "pvm";
    }
    return "?";
}

std::optional<Platform> platform_from_string(std::string_view name) {
    for (Platform p : {Platform::Vmx, Platform::Svm, Platform::VmxShadow, Platform::Pvm})
        if (to_string(p) == name) return p;
    return std::nullopt;
}

std::string_view to_string(VmType t) {
    switch (t) {
    case VmType::Default: return "default";
    case VmType::SevEs: return "sev-es";
    case VmType::Snp: return "snp";
    case VmType::Tdx: return "tdx";
    }
    return "?";
}

std::optional<VmType> vm_type_from_string(std::string_view name) {
    for (VmType t : {VmType::Default, VmType::SevEs, VmType::Snp, VmType::Tdx})
        if (to_string(t) == name) return t;
    return std::nullopt;
}

bool platform_supports(Platform p, VmType t) {
    switch (t) {
    case VmType::Default: return true;
    case VmType::SevEs:
    case VmType::Snp: return p == Platform::Svm;
    case VmType::Tdx: return p == Platform::Vmx;
    }
    return false;
}

// kvm_arch_init_vm() / kvm_is_vm_type_supported(), arch/x86/kvm/x86.c: kvm_caps.supported_vm_types
bool host_supports_vm_type(Platform p, const HostDescription& host, VmType t) {
    if (!platform_supports(p, t)) return false;
    return !host.vm_types || ((*host.vm_types >> kvm_x86_vm_type(t)) & 1);
}

// KVM_X86_DEFAULT_VM, KVM_X86_SEV_ES_VM, KVM_X86_SNP_VM, KVM_X86_TDX_VM (arch/x86/include/uapi/asm/kvm.h)
int kvm_x86_vm_type(VmType t) {
    switch (t) {
    case VmType::Default: return 0;
    case VmType::SevEs: return 3;
    case VmType::Snp: return 4;
    case VmType::Tdx: return 5;
    }
    return 0;
}

}  // namespace kvmsim
