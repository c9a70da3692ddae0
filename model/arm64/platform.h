// The arm64 host the model runs on (the contract's vm.platform for arm64). Like the x86
// platforms, a platform is hardware and firmware, never a kernel version.
#pragma once

#include <optional>
#include <string_view>

namespace kvmsim {

enum class Arm64Platform { Rme, NoRme };

struct Arm64HostOptions {
    // kvm_ipa_limit: the host's PARange as KVM uses it (KVM_CAP_ARM_VM_IPA_SIZE).
    unsigned ipa_limit;
    // An RMM answers RMI calls (is_rme_available() / kvm_rmi_is_available()).
    bool rmm_present;
    // kvm_realm_ipa_limit(): the RMM's largest stage-2 size for a realm.
    unsigned realm_ipa_limit;
    // ID_AA64DFR0_EL1.BRPs + 1 / WRPs + 1 (KVM_CAP_GUEST_DEBUG_HW_BPS / _WPS).
    unsigned hw_bps;
    unsigned hw_wps;
    // num_online_cpus(), and kvm_arm_default_max_vcpus() with a GICv3.
    unsigned online_cpus;
    unsigned default_max_vcpus;
    // The CPU features a vCPU sees (ID registers); every platform has them unless the host
    // description removes one. FEAT_HAFDBS (ID_AA64MMFR1_EL1.HAFDBS): without it TCR_EL1.HA is
    // RES0 and a clear AF is an Access flag fault.
    bool hafdbs = true;
    bool lse = true;           // ID_AA64ISAR0_EL1.Atomic >= 2
    bool dc_zva = true;        // DCZID_EL0.DZP == 0
    unsigned dczva_block = 64; // 4 << DCZID_EL0.BS
};

[[nodiscard]] Arm64HostOptions arm64_host_options(Arm64Platform p);
[[nodiscard]] std::optional<Arm64Platform> arm64_platform_from_string(std::string_view name);
[[nodiscard]] std::string_view to_string(Arm64Platform p);

}  // namespace kvmsim
