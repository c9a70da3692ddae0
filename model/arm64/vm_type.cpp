#include "vm_type.h"

#include "../profile/profile.h"

namespace kvmsim {
namespace {

// CCA v7-v13: machine type in bits 11:8 (KVM_VM_TYPE_ARM_MASK), REALM = 1 << 8.
constexpr std::uint64_t kMachineTypeShift = 8;
constexpr std::uint64_t kMachineTypeMask = 0xfULL << kMachineTypeShift;
constexpr std::uint64_t kRealmV7 = 1ULL << kMachineTypeShift;
// CCA v14: REALM = 1 << 30, next to upstream pKVM's KVM_VM_TYPE_ARM_PROTECTED = 1 << 31.
constexpr std::uint64_t kRealmV14 = 1ULL << 30;
constexpr std::uint64_t kProtected = 1ULL << 31;

Arm64VmTypeResult refuse(Errno e, const char* why) { return {std::nullopt, e, why}; }

}  // namespace

std::uint64_t arm64_vm_type_word(const Profile& profile, bool realm, unsigned ipa_bits) {
    std::uint64_t type = ipa_bits & KVM_VM_TYPE_ARM_IPA_SIZE_MASK;
    if (realm) type |= profile.has(Patch::CcaVmTypeBit30) ? kRealmV14 : kRealmV7;
    return type;
}

Arm64VmTypeResult kvm_arch_init_vm(const Profile& profile, const Arm64HostOptions& host, std::uint64_t type) {
    bool realm = false;
    if (profile.has(Patch::CcaVmTypeBit30)) {
        if (type & ~(KVM_VM_TYPE_ARM_IPA_SIZE_MASK | kRealmV14 | kProtected)) return refuse(Errno::Einval, "type bits outside the IPA size, REALM and PROTECTED");
        if ((type & kRealmV14) && (type & kProtected)) return refuse(Errno::Einval, "REALM and PROTECTED together");
        // pKVM is not enabled on the modelled host, so a protected VM cannot be created.
        if (type & kProtected) return refuse(Errno::Einval, "PROTECTED without protected KVM");
        realm = type & kRealmV14;
        if (realm && !host.rmm_present) return refuse(Errno::Einval, "REALM requested but no RMM is available");
    } else if (profile.has(Patch::CcaRealm)) {
        if (type & ~(KVM_VM_TYPE_ARM_IPA_SIZE_MASK | kMachineTypeMask)) return refuse(Errno::Einval, "type bits outside 11:0");
        const std::uint64_t machine = type & kMachineTypeMask;
        if (machine != 0 && machine != kRealmV7) return refuse(Errno::Einval, "machine type neither NORMAL nor REALM");
        realm = machine == kRealmV7;
        if (realm && !host.rmm_present)
            return refuse(profile.has(Patch::CcaRealmEinval) ? Errno::Einval : Errno::Eperm, "REALM requested but no RMM is available");
    } else if (type & ~KVM_VM_TYPE_ARM_IPA_SIZE_MASK) {
        return refuse(Errno::Einval, "type bits outside the IPA size (7:0)");
    }

    // kvm_init_ipa_range(): a realm's limit is the RMM's stage-2 size, not the host's.
    const unsigned limit = realm ? host.realm_ipa_limit : host.ipa_limit;
    unsigned phys_shift = static_cast<unsigned>(type & KVM_VM_TYPE_ARM_IPA_SIZE_MASK);
    if (phys_shift) {
        if (phys_shift > limit || phys_shift < ARM64_MIN_PARANGE_BITS) return refuse(Errno::Einval, "IPA size above the limit or below 32 bits");
    } else {
        phys_shift = KVM_PHYS_SHIFT;
        if (phys_shift > limit) return refuse(Errno::Einval, "the default 40-bit IPA is above the host limit");
    }
    return {Arm64VmType{.realm = realm, .ipa_bits = phys_shift}, Errno::Einval, ""};
}

}  // namespace kvmsim
