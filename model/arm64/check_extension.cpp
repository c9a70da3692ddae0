// KVM_CHECK_EXTENSION on arm64: mainline's answers, and what each CCA version hides from a realm.
#include "arm64_arch.h"
#include "lock_memslot.h"
#include "../profile/profile.h"

namespace kvmsim {
namespace {

// KVM_CAP_ARM_RMI is on the v12 list too; kvmsim has no name for it. v14 drops PMU_V3.
bool kvm_realm_ext_allowed(const Profile& profile, Cap cap) {
    switch (cap) {
    case Cap::Irqchip:
    case Cap::ArmPsci:
    case Cap::ArmPsci02:
    case Cap::NrVcpus:
    case Cap::MaxVcpus:
    case Cap::MaxVcpuId:
    case Cap::MsiDevid:
    case Cap::ArmVmIpaSize:
    case Cap::ArmPtrauthAddress:
    case Cap::ArmPtrauthGeneric:
        return true;
    case Cap::ArmPmuV3: return !profile.has(Patch::CcaAllowListNoPmu);
    default: return false;
    }
}

}  // namespace

bool realm_ext_allowed(const Profile& profile, Cap cap) { return kvm_realm_ext_allowed(profile, cap); }

// models kvm_vm_ioctl_check_extension(), arch/arm64/kvm/arm.c. vm_fd false is the /dev/kvm fd
// (kvm == NULL): never a realm, in every CCA version (v7-v10 let kvm_is_realm() take NULL;
// v11+ test "kvm && kvm_is_realm(kvm)").
std::optional<long> Arm64Arch::check_extension(const Profile& profile, Cap cap, bool vm_fd) const {
    const bool realm = vm_fd && is_realm() && profile.has(Patch::CcaRealm);
    if (realm && profile.has(Patch::CcaExtAllowList) && !kvm_realm_ext_allowed(profile, cap)) return 0;
    // The lock RFC's cap, under whatever number this profile's header gives it.
    if (profile.has(Patch::LockApi) && static_cast<std::uint32_t>(cap) == lock_cap_number(profile))
        return kvm_arm_lock_memslot_supported(profile) ? 1 : 0;

    switch (cap) {
    case Cap::Irqchip: return 1;  // vgic_present
    case Cap::Ioeventfd:
    case Cap::SyncMmu:
    case Cap::OneReg:
    case Cap::ArmPsci:
    case Cap::ArmPsci02:
    case Cap::MpState:
    case Cap::ImmediateExit:
    case Cap::VcpuEvents:
        return 1;
    case Cap::ReadonlyMem:
        if (!profile.has(Patch::Arm64ReadonlyMem)) return std::nullopt;
        // The seed patch (CCA v7 34/45): moved out of the r = 1 list into !kvm_is_realm(kvm).
        return profile.has(Patch::CcaHideReadonlyMem) && realm ? 0 : 1;
    case Cap::SetGuestDebug:
        // The !kvm_is_realm(kvm) case predates the seed patch (it is a context line of its
        // diff), so it comes with the realm support itself; v8 moved it to 08/43.
        return (profile.has(Patch::CcaRealm) || profile.has(Patch::CcaHideDebugCaps)) && realm ? 0 : 1;
    case Cap::GuestDebugHwBps: return profile.has(Patch::CcaHideDebugCaps) && realm ? 0 : host_.hw_bps;
    case Cap::GuestDebugHwWps: return profile.has(Patch::CcaHideDebugCaps) && realm ? 0 : host_.hw_wps;
    case Cap::CounterOffset:
        if (!profile.has(Patch::Arm64CounterOffset)) return 0;
        return profile.has(Patch::CcaHideCounterOffset) && realm ? 0 : 1;
    case Cap::ArmNisvToUser:
    case Cap::ArmInjectExtDabt:
        if (!profile.has(Patch::Arm64NisvToUser)) return std::nullopt;
        return 1;
    case Cap::ArmVmIpaSize: return host_.ipa_limit;  // get_kvm_ipa_limit()
    case Cap::NrVcpus: return host_.online_cpus < host_.default_max_vcpus ? host_.online_cpus : host_.default_max_vcpus;
    case Cap::MaxVcpus:
    case Cap::MaxVcpuId:
        return host_.default_max_vcpus;
    case Cap::ArmPmuV3:
    case Cap::ArmPtrauthAddress:
    case Cap::ArmPtrauthGeneric:
        return 1;
    // The irqchip's MSI device ID: meaningless without a VM, and refused there.
    case Cap::MsiDevid: return vm_fd ? 1 : -static_cast<long>(Errno::Einval);
    case Cap::ArmMte: return 0;  // the modelled host has no MTE
    case Cap::UserMemory2:
    case Cap::MemoryFaultInfo:
        if (!profile.has(Patch::UserMemory2)) return std::nullopt;
        return 1;
    default: return std::nullopt;
    }
}

}  // namespace kvmsim
