// The kvm_arch_* hooks the generic memslot code calls (include/linux/kvm_host.h). Each
// architecture implements them in its own folder; generic code has no #if on the arch.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "../result.h"
#include "caps.h"
#include "memslot.h"

namespace kvmsim {

enum class kvm_mr_change { Create, Delete, Move, FlagsOnly };

class Profile;
class kvm;

// The arch constants and Kconfig choices kvm_vm_ioctl_check_extension_generic() reads.
struct GenericCapConfig {
    long coalesced_mmio_page_offset = 1;  // KVM_COALESCED_MMIO_PAGE_OFFSET (CONFIG_KVM_MMIO: x86 and arm64)
    bool dirty_ring_tso = false;          // CONFIG_HAVE_KVM_DIRTY_RING_TSO
    bool dirty_ring_acq_rel = false;      // CONFIG_HAVE_KVM_DIRTY_RING_ACQ_REL
    bool dirty_ring_with_bitmap = false;  // CONFIG_NEED_KVM_DIRTY_RING_WITH_BITMAP
    // CONFIG_KVM_GUEST_MEMFD; nullopt where the model does not know the host's configuration.
    std::optional<bool> guest_memfd;
    std::optional<long> guest_memfd_flags;  // kvm_gmem_get_supported_flags() when built; nullopt: not modelled
    // kvm_arch_has_private_mem(kvm) of the VM asked (false on /dev/kvm, where kvm is NULL).
    bool has_private_mem = false;
    // CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES: the KVM_CAP_MEMORY_ATTRIBUTES case is compiled.
    bool generic_memory_attributes = false;
};

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
    // kvm_vm_ioctl_check_extension(): the arch's answer (0 for a cap it does not know, as the
    // kernel), or nullopt where the answer depends on something the model does not describe.
    // vm_fd is false for the /dev/kvm fd (kvm == NULL in the kernel).
    [[nodiscard]] virtual std::optional<long> check_extension(const Profile& profile, Cap cap, bool vm_fd) const = 0;
    // What the generic capability code reads from the arch and its configuration.
    [[nodiscard]] virtual GenericCapConfig generic_cap_config(bool vm_fd) const = 0;
    // kvm_arch_prepare_memory_region(): 0 or the errno that refuses the change.
    [[nodiscard]] virtual KvmResult prepare_memory_region(const Profile& profile, const kvm_memory_slot* old,
                                                          const kvm_memory_slot& new_slot,
                                                          kvm_mr_change change) const = 0;
    // KVM_MAX_VCPUS / KVM_MAX_VCPU_IDS for kvm_vm_ioctl_create_vcpu().
    [[nodiscard]] virtual unsigned max_vcpus(const Profile& profile) const = 0;
    [[nodiscard]] virtual unsigned max_vcpu_ids(const Profile& profile) const = 0;

    // Hooks with a default: an arch that keeps no stage-2 state or arch caps leaves them alone.
    // kvm_vm_ioctl_enable_cap(): caps the generic code does not handle; the default is EINVAL.
    virtual KvmResult vm_ioctl_enable_cap(kvm& vm, Cap cap, std::uint32_t flags, const std::array<std::uint64_t, 4>& args);
    // kvm_arch_flush_shadow_memslot(): a DELETE or MOVE zaps the slot's mappings before prepare.
    virtual void flush_shadow_memslot(kvm& vm, const kvm_memory_slot& slot);
    // kvm_unmap_gfn_range(): the MMU notifier dropped host memory behind [start, end) of a slot.
    virtual void unmap_gfn_range(kvm& vm, const kvm_memory_slot& slot, Gfn start, Gfn end);
    // kvm_arch_mmu_enable_log_dirty_pt_masked(): KVM_GET_DIRTY_LOG (without manual protect) and
    // KVM_CLEAR_DIRTY_LOG write-protect the pages of one bitmap word they reported or cleared, so
    // the next write faults and is logged again. The default keeps no such state: x86's model logs
    // every guest write (it has no SPTEs), which is what x86's per-bit protection makes visible.
    virtual void mmu_enable_log_dirty_pt_masked(kvm& vm, const kvm_memory_slot& slot, std::uint64_t gfn_offset, std::uint64_t mask);
    // kvm_arch_commit_memory_region(): after a CREATE, MOVE or FLAGS_ONLY is installed (old_flags: 0 for CREATE).
    virtual void commit_memory_region(kvm& vm, std::uint32_t old_flags, const kvm_memory_slot& new_slot, kvm_mr_change change);
};

}  // namespace kvmsim
