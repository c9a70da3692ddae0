// The kvm_arch_* hooks the generic memslot code calls (include/linux/kvm_host.h). Each
// architecture implements them in its own folder; generic code has no #if on the arch.
#pragma once

#include <cstdint>
#include <optional>

#include "../result.h"
#include "caps.h"
#include "memslot.h"

namespace kvmsim {

enum class kvm_mr_change { Create, Delete, Move, FlagsOnly };

class Profile;

class KvmArch {
public:
    virtual ~KvmArch() = default;

    // KVM_USER_MEM_SLOTS for this profile.
    [[nodiscard]] virtual unsigned user_mem_slots(const Profile& profile) const = 0;
    // KVM_MEM_SLOTS_NUM: user slots plus the arch's internal ones.
    [[nodiscard]] virtual unsigned mem_slots_num(const Profile& profile) const = 0;
    // kvm_arch_nr_memslot_as_ids()
    [[nodiscard]] virtual unsigned nr_memslot_as_ids(const Profile& profile) const = 0;
    // KVM_MAX_NR_ADDRESS_SPACES as compiled (the /dev/kvm answer of KVM_CAP_MULTI_ADDRESS_SPACE)
    [[nodiscard]] virtual unsigned max_nr_address_spaces(const Profile& profile) const = 0;
    // kvm_arch_has_readonly_mem()
    [[nodiscard]] virtual bool has_readonly_mem(const Profile& profile) const = 0;
    // kvm_vm_ioctl_check_extension(): the arch's answer, or nullopt to fall through to 0.
    // vm_fd is false for the /dev/kvm fd (kvm == NULL in the kernel).
    [[nodiscard]] virtual std::optional<long> check_extension(const Profile& profile, Cap cap, bool vm_fd) const = 0;
    // kvm_arch_prepare_memory_region(): 0 or the errno that refuses the change.
    [[nodiscard]] virtual KvmResult prepare_memory_region(const Profile& profile, const kvm_memory_slot* old,
                                                          const kvm_memory_slot& new_slot,
                                                          kvm_mr_change change) const = 0;
    // KVM_MAX_VCPUS / KVM_MAX_VCPU_IDS for kvm_vm_ioctl_create_vcpu().
    [[nodiscard]] virtual unsigned max_vcpus(const Profile& profile) const = 0;
    [[nodiscard]] virtual unsigned max_vcpu_ids(const Profile& profile) const = 0;
};

}  // namespace kvmsim
