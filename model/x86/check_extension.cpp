// KVM_CHECK_EXTENSION on x86: what 6.18's arch/x86/kvm/x86.c answers after the generic code
// (model/kvm/kvm.cpp) passed the cap on. Expectations checked against /dev/kvm on the project's
// 6.18 pvm host for every cap 0-244 on both fds (tests/kvm/caps_probe_test.cpp).
#include <algorithm>

#include "../profile/profile.h"
#include "x86_arch.h"

namespace kvmsim {
namespace {

// Answers that depend on host hardware, module parameters or Kconfig the host description does
// not carry (CONFIG_KVM_HYPERV, CONFIG_KVM_XEN, CONFIG_X86_SGX_KVM, TSC scaling,
// nested, bus-lock and notify VM exits, MWAIT, XSAVE sizes, the vendor's quirks, enable_pmu,
// allow_smaller_maxphyaddr, sched_info_on(), and the x2APIC EOI-broadcast flags that differ per fd).
bool depends_on_unmodelled_host(Cap cap) {
    switch (cap) {
    case Cap::XenHvm:
    case Cap::Hyperv:
    case Cap::HypervVapic:
    case Cap::HypervSpin:
    case Cap::HypervTime:
    case Cap::HypervSynic:
    case Cap::HypervSynic2:
    case Cap::HypervVpIndex:
    case Cap::HypervEventfd:
    case Cap::HypervTlbflush:
    case Cap::HypervSendIpi:
    case Cap::HypervCpuid:
    case Cap::HypervEnforceCpuid:
    case Cap::SysHypervCpuid:
    case Cap::HypervDirectTlbflush:
    case Cap::HypervEnlightenedVmcs:
    case Cap::SgxAttribute:
    case Cap::TscControl:
    case Cap::VmTscControl:
    case Cap::NestedState:
    case Cap::X86BusLockExit:
    case Cap::X86NotifyVmexit:
    case Cap::X86DisableExits:
    case Cap::Xcrs:
    case Cap::Xsave2:
    case Cap::DisableQuirks2:
    case Cap::PmuCapability:
    case Cap::SmallerMaxphyaddr:
    case Cap::StealTime:
    case Cap::X2apicApi:
    // kvm_gmem_get_supported_flags() where guest_memfd is built: no host of this project built
    // with it has been probed for this cap, and its flags changed during 6.18's merge window.
    case Cap::GuestMemfdFlags:
        return true;
    default:
        return false;
    }
}

}  // namespace

bool x86_cap_modelled(Cap cap) { return !depends_on_unmodelled_host(cap); }

// The generic code's inputs on x86 (arch/x86/kvm/Kconfig, arch/x86/include/asm/kvm_host.h).
GenericCapConfig X86Arch::generic_cap_config(bool vm_fd) const {
    GenericCapConfig c;
    c.coalesced_mmio_page_offset = 2;  // after the kvm_run page and the PIO page
    c.dirty_ring_tso = true;
    c.dirty_ring_acq_rel = true;
    c.guest_memfd = host_.guest_memfd;
    c.generic_memory_attributes = host_.memory_attributes;
    // kvm_arch_has_private_mem(): kvm->arch.has_private_mem, set for SW-protected, SNP and TDX VMs.
    c.has_private_mem = vm_fd && has_private_mem();
    return c;
}

// models kvm_vm_ioctl_check_extension(), arch/x86/kvm/x86.c (6.18)
std::optional<long> X86Arch::check_extension(const Profile& profile, Cap cap, bool vm_fd) const {
    if (depends_on_unmodelled_host(cap)) return std::nullopt;
    const bool modern = profile.has(Patch::UserMemory2);
    switch (cap) {
    // Answers the older profiles carry (each gated by the patch that brought it).
    case Cap::SyncMmu: return 1;
    case Cap::NrVcpus: return std::min(host_.online_cpus, max_vcpus(profile));  // min(num_online_cpus(), KVM_MAX_VCPUS)
    case Cap::MaxVcpus: return max_vcpus(profile);
    case Cap::ReadonlyMem:
        if (!profile.has(Patch::ReadonlyMemslot)) return 0;
        return vm_fd ? (has_readonly_mem(profile) ? 1 : 0) : 1;
    case Cap::MemoryFaultInfo:
        return modern ? 1 : 0;
    case Cap::VmTypes: {
        if (!modern) return 0;
        long mask = 0;
        for (VmType t : {VmType::Default, VmType::SevEs, VmType::Snp, VmType::Tdx})
            if (host_supports_vm_type(platform_, host_, t)) mask |= 1L << kvm_x86_vm_type(t);
        return mask;
    }
    // Reaches the arch only without CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES (selected by SW-protected,
    // SEV or TDX VM support): x86 does not know it (C1: 0).
    case Cap::MemoryAttributes:
    case Cap::GuestMemfd:       // reaches the arch only where CONFIG_KVM_GUEST_MEMFD is not built
    case Cap::DirtyLogRing:     // before the dirty-ring patch
    case Cap::UserMemory2:
    case Cap::MultiAddressSpace:  // reaches the arch only where it is not compiled (no SMM)
        return 0;
    default: break;
    }
    const std::optional<long> r = answer_618(profile, cap, vm_fd);
    // An older profile has no history for 6.18's x86 answers; any other cap is not an x86 one
    // and answers 0 in every version.
    if (!modern && r) return std::nullopt;
    return r.value_or(0);
}

// The rest of 6.18's switch; nullopt for a cap that is not an x86 capability.
std::optional<long> X86Arch::answer_618(const Profile& profile, Cap cap, bool vm_fd) const {
    switch (cap) {
    case Cap::Irqchip:
    case Cap::Hlt:
    case Cap::MmuShadowCacheControl:
    case Cap::SetTssAddr:
    case Cap::ExtCpuid:
    case Cap::ExtEmulCpuid:
    case Cap::Clocksource:
    case Cap::Pit:
    case Cap::NopIoDelay:
    case Cap::MpState:
    case Cap::UserNmi:
    case Cap::ReinjectControl:
    case Cap::IrqInjectStatus:
    case Cap::Ioeventfd:
    case Cap::IoeventfdNoLength:
    case Cap::Pit2:
    case Cap::PitState2:
    case Cap::SetIdentityMapAddr:
    case Cap::VcpuEvents:
    case Cap::PciSegment:
    case Cap::Debugregs:
    case Cap::X86RobustSinglestep:
    case Cap::Xsave:
    case Cap::AsyncPf:
    case Cap::AsyncPfInt:
    case Cap::GetTscKhz:
    case Cap::KvmclockCtrl:
    case Cap::IoapicPolarityIgnored:
    case Cap::TscDeadlineTimer:
    case Cap::DisableQuirks:
    case Cap::SetBootCpuId:
    case Cap::SplitIrqchip:
    case Cap::ImmediateExit:
    case Cap::PmuEventFilter:
    case Cap::PmuEventMaskedEvents:
    case Cap::GetMsrFeatures:
    case Cap::MsrPlatformInfo:
    case Cap::ExceptionPayload:
    case Cap::X86TripleFaultEvent:
    case Cap::SetGuestDebug:
    case Cap::LastCpu:
    case Cap::X86UserSpaceMsr:
    case Cap::X86MsrFilter:
    case Cap::EnforcePvFeatureCpuid:
    case Cap::VmCopyEncContextFrom:
    case Cap::VmMoveEncContextFrom:
    case Cap::Sregs2:
    case Cap::ExitOnEmulationFailure:
    case Cap::VcpuAttributes:
    case Cap::SysAttributes:
    case Cap::Vapic:
    case Cap::EnableCap:
    case Cap::VmDisableNxHugePages:
    case Cap::IrqfdResample:
    case Cap::X86GuestMode:
        return 1;
    case Cap::OneReg: return profile.has(Patch::X86OneReg) ? 1 : 0;  // 06f2969c6a12, with CET virtualization (6.18)
    case Cap::PreFaultMemory: return options_.tdp ? 1 : 0;  // tdp_enabled
    // Only with CONFIG_KVM_SMM; then the vendor's has_emulated_msr(MSR_IA32_SMBASE), false for
    // a VM whose state is protected (SEV-ES, SNP, TDX) and true otherwise (VMX with unrestricted guest).
    case Cap::X86Smm: return options_.smm_address_space && !(vm_fd && has_protected_state()) ? 1 : 0;
    case Cap::X86ApicBusCyclesNs: return 1;                  // APIC_BUS_CYCLE_NS_DEFAULT
    case Cap::ExitHypercall: return 1L << 12;                // KVM_EXIT_HYPERCALL_VALID_MASK: KVM_HC_MAP_GPA_RANGE
    case Cap::SetGuestDebug2: return 0x1f0003;               // KVM_GUESTDBG_VALID_MASK (x86)
    case Cap::SyncRegs: return 0x7;                          // KVM_SYNC_X86_VALID_FIELDS: REGS, SREGS, EVENTS
    case Cap::AdjustClock: return 0xe;                       // KVM_CLOCK_VALID_FLAGS: TSC_STABLE, REALTIME, HOST_TSC
    case Cap::Mce: return 32;                                // KVM_MAX_MCE_BANKS
    case Cap::MaxVcpuId: return max_vcpu_ids(profile);       // KVM_MAX_VCPU_IDS
    case Cap::PvMmu: return 0;                               // obsolete
    default: return std::nullopt;
    }
}

}  // namespace kvmsim
