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

// Answers that depend on CPU features or configuration the arm64 host options do not carry
// (MTE is described: the modelled hosts have none), and KVM_CAP_GUEST_MEMFD, whose
// CONFIG_KVM_GUEST_MEMFD the model does not know for an arm64 host.
bool arm64_depends_on_unmodelled_host(Cap cap) {
    switch (cap) {
    case Cap::StealTime:                    // kvm_arm_pvtime_supported()
    case Cap::ArmEl132bit:                  // ARM64_HAS_32BIT_EL1
    case Cap::ArmEl2:                       // ARM64_HAS_NESTED_VIRT
    case Cap::ArmEl2E2h0:                   // ARM64_HAS_HCR_NV1
    case Cap::ArmInjectSerrorEsr:           // ARM64_HAS_RAS_EXTN
    case Cap::ArmSve:                       // system_supports_sve()
    case Cap::ArmSupportedBlockSizes:       // the host's page size
    case Cap::ArmCacheablePfnmapSupported:  // FWB and DIC
    case Cap::SetGuestDebug2:               // hidden or not for realms: not in the series' notes
    case Cap::GuestMemfd:
    case Cap::GuestMemfdFlags:
        return true;
    default:
        return false;
    }
}

}  // namespace

bool realm_ext_allowed(const Profile& profile, Cap cap) { return kvm_realm_ext_allowed(profile, cap); }

bool arm64_cap_modelled(Cap cap) { return !arm64_depends_on_unmodelled_host(cap); }

// The generic code's inputs on arm64 (arch/arm64/kvm/Kconfig, arch/arm64/include/uapi/asm/kvm.h).
GenericCapConfig Arm64Arch::generic_cap_config(bool) const {
    GenericCapConfig c;
    c.coalesced_mmio_page_offset = 1;  // after the kvm_run page (no PIO page on arm64)
    c.dirty_ring_acq_rel = true;       // weakly ordered: only the acquire/release ring
    c.dirty_ring_with_bitmap = true;   // the ITS tables are written without a vCPU
    c.guest_memfd = std::nullopt;
    return c;
}

// models kvm_vm_ioctl_check_extension(), arch/arm64/kvm/arm.c. vm_fd false is the /dev/kvm fd
// (kvm == NULL): never a realm, in every CCA version (v7-v10 let kvm_is_realm() take NULL;
// v11+ test "kvm && kvm_is_realm(kvm)"). The generic caps were answered before (model/kvm/kvm.cpp).
std::optional<long> Arm64Arch::check_extension(const Profile& profile, Cap cap, bool vm_fd) const {
    if (arm64_depends_on_unmodelled_host(cap)) return std::nullopt;
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
        if (!profile.has(Patch::Arm64ReadonlyMem)) return 0;
        // The seed patch (CCA v7 34/45): moved out of the r = 1 list into !kvm_is_realm(kvm).
        return profile.has(Patch::CcaHideReadonlyMem) && realm ? 0 : 1;
    case Cap::SetGuestDebug:
        // The !kvm_is_realm(kvm) case predates the seed patch (it is a context line of its
        // diff), so it comes with the realm support itself; v8 moved it to 08/43.
        return (profile.has(Patch::CcaRealm) || profile.has(Patch::CcaHideDebugCaps)) && realm ? 0 : 1;
    // v8 08/43 "Don't expose debug capabilities for realm guests" is the first to answer 0
    // here for a realm (reference arm64-and-kvmtool.md section 1.3); v7 still gives the counts.
    case Cap::GuestDebugHwBps: return profile.has(Patch::CcaHideDebugCaps) && realm ? 0 : host_.hw_bps;
    case Cap::GuestDebugHwWps: return profile.has(Patch::CcaHideDebugCaps) && realm ? 0 : host_.hw_wps;
    case Cap::CounterOffset:
        if (!profile.has(Patch::Arm64CounterOffset)) return 0;
        return profile.has(Patch::CcaHideCounterOffset) && realm ? 0 : 1;
    case Cap::ArmNisvToUser:
    case Cap::ArmInjectExtDabt:
        if (!profile.has(Patch::Arm64NisvToUser)) return 0;
        return 1;
    case Cap::ArmVmIpaSize: return host_.ipa_limit;  // get_kvm_ipa_limit()
    case Cap::NrVcpus: return host_.online_cpus < host_.default_max_vcpus ? host_.online_cpus : host_.default_max_vcpus;
    case Cap::MaxVcpus:
    case Cap::MaxVcpuId:
        // kvm->max_vcpus: kvm_arm_default_max_vcpus() at creation, VGIC_V3_MAX_CPUS once kvm_vgic_create() ran
        if (!vm_fd) return host_.default_max_vcpus;
        return vgic_.max_vcpus ? *vgic_.max_vcpus : host_.default_max_vcpus;
    case Cap::ArmPmuV3:
    case Cap::ArmPtrauthAddress:
    case Cap::ArmPtrauthGeneric:
        return 1;
    // kvm->arch.vgic.msis_require_devid: set when an ITS is created (vgic_its_create(), model/arm64/vgic.cpp),
    // never cleared. Without a VM: EINVAL.
    case Cap::MsiDevid: return vm_fd ? (vgic_.msis_require_devid ? 1 : 0) : -static_cast<long>(Errno::Einval);
    case Cap::ArmMte: return 0;  // system_supports_mte(): the modelled hosts have no MTE
    case Cap::MemoryFaultInfo:
        if (!profile.has(Patch::UserMemory2)) return 0;
        return 1;
    default: break;
    }
    // 6.18's other arm64 answers. An older profile has no history for them; any other cap is
    // not an arm64 one and answers 0 in every version.
    long r = 0;
    switch (cap) {
    case Cap::ArmIrqLineLayout2:
    case Cap::VcpuAttributes:
    case Cap::PtpKvm:
    case Cap::ArmSystemSuspend:
    case Cap::IrqfdResample:
    case Cap::ArmWritableImpIdRegs:
    case Cap::ArmSetDeviceAddr:
    case Cap::ArmUserIrq:  // 1: EL1 vtimer, ptimer and PMU
        r = 1;
        break;
    case Cap::ArmEagerSplitChunkSize: r = 0; break;     // KVM_ARM_EAGER_SPLIT_CHUNK_SIZE_DEFAULT, and a new VM's value
    case Cap::ArmSupportedRegMaskRanges: r = 1; break;  // BIT(KVM_ARM_FEATURE_ID_RANGE)
    default: return 0;
    }
    if (!profile.has(Patch::UserMemory2)) return std::nullopt;
    return r;
}

}  // namespace kvmsim
