// The memslot lock/unlock API of the RFC "KVM: arm64: Add Statistical Profiling Extension (SPE)
// support" v4/v5 (never merged): KVM_CAP_ARM_LOCK_USER_MEMORY_REGION through KVM_ENABLE_CAP.
#pragma once

#include <array>
#include <cstdint>

#include "../result.h"

namespace kvmsim {

class kvm;
class Arm64Arch;
class Profile;

// cap->flags: the action (the review asked to keep this apart from args[1], the permissions).
namespace lock_action {
inline constexpr std::uint32_t Lock = 1u << 0;    // KVM_ARM_LOCK_USER_MEMORY_REGION_FLAGS_LOCK
inline constexpr std::uint32_t Unlock = 1u << 1;  // KVM_ARM_LOCK_USER_MEMORY_REGION_FLAGS_UNLOCK
}  // namespace lock_action

// args[1] of LOCK: the permissions ("perm", as Suzuki K Poulose asked the local to be named).
namespace lock_perm {
inline constexpr std::uint64_t Read = 1u << 0;   // KVM_ARM_LOCK_MEM_READ
inline constexpr std::uint64_t Write = 1u << 1;  // KVM_ARM_LOCK_MEM_WRITE
}  // namespace lock_perm

// args[1] of UNLOCK.
inline constexpr std::uint64_t KVM_ARM_UNLOCK_MEM_ALL = 1u << 0;

// KVM_CAP_ARM_LOCK_USER_MEMORY_REGION's number in this profile's UAPI header: 206 in v4,
// 207 in v5. Profiles without the series have no such name; the seed's 206 is used.
[[nodiscard]] std::uint32_t lock_cap_number(const Profile& profile);

// models kvm_arm_lock_memslot_supported(), arch/arm64/kvm/arm.c (RFC)
[[nodiscard]] bool kvm_arm_lock_memslot_supported(const Profile& profile);
// models kvm_lock_user_memory_region_ioctl(), arch/arm64/kvm/arm.c (RFC)
KvmResult kvm_lock_user_memory_region_ioctl(kvm& vm, Arm64Arch& arch, std::uint32_t action, const std::array<std::uint64_t, 4>& args);
// models kvm_mmu_lock_memslot(), arch/arm64/kvm/mmu.c (RFC)
KvmResult kvm_mmu_lock_memslot(kvm& vm, Arm64Arch& arch, std::uint64_t slot, std::uint64_t perm);
// models kvm_mmu_unlock_memslot(), arch/arm64/kvm/mmu.c (RFC)
KvmResult kvm_mmu_unlock_memslot(kvm& vm, Arm64Arch& arch, std::uint64_t slot, std::uint64_t flags);

}  // namespace kvmsim
