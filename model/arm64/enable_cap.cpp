// KVM_ENABLE_CAP on an arm64 VM: KVM_CAP_ARM_NISV_TO_USER, the lock RFC's cap, and CCA v14's
// refusal of caps a realm may not use.
#include <string>

#include "../kvm/kvm.h"
#include "arm64_arch.h"
#include "lock_memslot.h"

namespace kvmsim {

// models kvm_vm_ioctl_enable_cap(), arch/arm64/kvm/arm.c
KvmResult Arm64Arch::vm_ioctl_enable_cap(kvm& vm, Cap cap, std::uint32_t flags, const std::array<std::uint64_t, 4>& args) {
    const Profile& profile = vm.profile();
    auto refuse = [&](const std::string& why) {
        vm.trace().emit("kvm_vm_ioctl_enable_cap", [&] { return to_string(cap) + ": " + why + " -> EINVAL"; });
        return KvmResult::error(Errno::Einval);
    };
    // Mainline rejects any cap->flags up front; the lock RFC's 02 moved the test into the NISV
    // case because its own cap uses cap->flags as the action.
    if (!profile.has(Patch::LockApi) && flags) return refuse("cap->flags not 0");
    if (is_realm() && profile.has(Patch::CcaEnableCapCheck) && !realm_ext_allowed(profile, cap)) return refuse("not on the realm allow-list");
    if (profile.has(Patch::LockApi) && static_cast<std::uint32_t>(cap) == lock_cap_number(profile)) {
        if (!kvm_arm_lock_memslot_supported(profile)) return refuse("kvm_arm_lock_memslot_supported() is 0");
        return kvm_lock_user_memory_region_ioctl(vm, *this, flags, args);
    }
    switch (cap) {
    case Cap::ArmNisvToUser:
        if (!profile.has(Patch::Arm64NisvToUser)) return refuse("unknown cap");
        if (flags) return refuse("cap->flags not 0");
        nisv_to_user_ = true;
        vm.trace().emit("kvm_vm_ioctl_enable_cap", [] { return std::string("return_nisv_io_abort_to_user = true -> 0"); });
        return KvmResult::ok();
    default: return refuse("not enabled by this model");
    }
}

}  // namespace kvmsim
