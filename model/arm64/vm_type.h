// KVM_CREATE_VM's type word on arm64: the IPA size in bits 7:0 and, with the CCA series, the
// machine type (normal or realm) whose encoding changed between versions.
#pragma once

#include <cstdint>
#include <optional>

#include "../errno.h"
#include "platform.h"

namespace kvmsim {

class Profile;

struct Arm64VmType {
    bool realm = false;
    unsigned ipa_bits = 40;  // the VM's IPA size after defaults
};

struct Arm64VmTypeResult {
    std::optional<Arm64VmType> type;
    Errno error = Errno::Einval;  // when !type
    const char* why = "";
};

inline constexpr std::uint64_t KVM_VM_TYPE_ARM_IPA_SIZE_MASK = 0xff;
inline constexpr unsigned KVM_PHYS_SHIFT = 40;        // the default IPA size
inline constexpr unsigned ARM64_MIN_PARANGE_BITS = 32;

// The type word a VMM passes for a realm (or not) with ipa_bits (0: the default) under this profile.
[[nodiscard]] std::uint64_t arm64_vm_type_word(const Profile& profile, bool realm, unsigned ipa_bits);
// models kvm_arch_init_vm() with kvm_init_ipa_range(), arch/arm64/kvm/arm.c and mmu.c
[[nodiscard]] Arm64VmTypeResult kvm_arch_init_vm(const Profile& profile, const Arm64HostOptions& host, std::uint64_t type);

}  // namespace kvmsim
