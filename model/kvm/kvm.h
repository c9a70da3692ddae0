// The VM (struct kvm, include/linux/kvm_host.h) and its generic ioctls from virt/kvm/kvm_main.c.
// Every ioctl returns what the kernel returns to userspace: a value, or an errno.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "../host/host_mm.h"
#include "../profile/profile.h"
#include "../result.h"
#include "../trace.h"
#include "arch.h"
#include "memslots.h"

namespace kvmsim {

// struct kvm_userspace_memory_region, include/uapi/linux/kvm.h
struct kvm_userspace_memory_region {
    std::uint32_t slot = 0;
    std::uint32_t flags = 0;
    std::uint64_t guest_phys_addr = 0;
    std::uint64_t memory_size = 0;
    std::uint64_t userspace_addr = 0;
};

// struct kvm_vcpu: the generic part the memslot code touches.
struct kvm_vcpu {
    std::uint32_t vcpu_id = 0;
    // The per-vCPU lookup cache (vcpu->last_used_slot, vcpu->last_used_slot_gen). A pointer as
    // in the kernel: every change that frees a slot bumps the generation, which drops it unread.
    kvm_memory_slot* last_used_slot = nullptr;
    std::uint64_t last_used_slot_gen = 0;
    std::uint16_t as_id = 0;  // kvm_arch_vcpu_memslots_id(): 1 while in SMM on x86
};

// KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 options (include/uapi/linux/kvm.h)
namespace dirtylog {
inline constexpr std::uint64_t ManualProtectEnable = 1u << 0;  // dirtylog::ManualProtectEnable
inline constexpr std::uint64_t InitiallySet = 1u << 1;         // dirtylog::InitiallySet
}  // namespace dirtylog

// Which fd a KVM_CHECK_EXTENSION goes to: /dev/kvm (kvm == NULL in the kernel) or the VM.
enum class CheckOn { SystemFd, VmFd };

// Dirty-log ioctl results that carry data back to userspace.
struct DirtyLog {
    KvmResult result = KvmResult::ok();
    DirtyBitmap bitmap;  // the copy userspace receives
};

class kvm {
public:
    kvm(HostMm& mm, Profile profile, std::unique_ptr<KvmArch> arch);

    // KVM_CHECK_EXTENSION: kvm_vm_ioctl_check_extension_generic(), then the arch. nullopt: the
    // answer depends on something the model does not describe (the scenario layer refuses
    // such caps up front: x86_cap_modelled(), arm64_cap_modelled()).
    [[nodiscard]] std::optional<long> check_extension(Cap cap, CheckOn on = CheckOn::VmFd) const;
    // KVM_ENABLE_CAP on the VM fd: kvm_vm_ioctl_enable_cap_generic().
    KvmResult enable_cap(Cap cap, std::uint32_t flags, const std::array<std::uint64_t, 4>& args);
    // KVM_SET_USER_MEMORY_REGION: kvm_vm_ioctl_set_memory_region().
    KvmResult set_user_memory_region(const kvm_userspace_memory_region& mem);
    // KVM_GET_DIRTY_LOG: kvm_vm_ioctl_get_dirty_log().
    DirtyLog get_dirty_log(std::uint32_t slot);
    // KVM_CLEAR_DIRTY_LOG: kvm_vm_ioctl_clear_dirty_log(); bitmap covers num_pages bits.
    KvmResult clear_dirty_log(std::uint32_t slot, std::uint64_t first_page, std::uint32_t num_pages, const DirtyBitmap& bitmap);
    KvmResult clear_dirty_log(std::uint32_t slot, std::uint64_t first_page, std::uint32_t num_pages,
                              const std::vector<std::uint64_t>& bitmap) {
        return clear_dirty_log(slot, first_page, num_pages, DirtyBitmap::from_words(bitmap));
    }
    // KVM_CREATE_VCPU: kvm_vm_ioctl_create_vcpu(); returns 0 (the fd is not an outcome).
    KvmResult create_vcpu(std::uint32_t id);

    [[nodiscard]] kvm_vcpu* vcpu(std::uint32_t id);
    [[nodiscard]] const kvm_memslots& memslots(std::uint16_t as_id) const { return *memslots_.at(as_id); }
    [[nodiscard]] unsigned nr_as_ids() const { return static_cast<unsigned>(memslots_.size()); }
    // models gfn_to_memslot(), virt/kvm/kvm_main.c (address space 0, VM-wide cache)
    [[nodiscard]] kvm_memory_slot* gfn_to_memslot(Gfn gfn);
    // models kvm_vcpu_gfn_to_memslot(), virt/kvm/kvm_main.c (the vCPU's address space and cache)
    [[nodiscard]] kvm_memory_slot* vcpu_gfn_to_memslot(kvm_vcpu& vcpu, Gfn gfn);
    // models mark_page_dirty_in_slot(), virt/kvm/kvm_main.c
    void mark_page_dirty_in_slot(kvm_memory_slot* slot, Gfn gfn);
    // The host changed or unmapped [start, end) of its address space (MMU notifier).
    void mmu_notifier_invalidate_range(Hva start, Hva end);

    [[nodiscard]] HostMm& mm() { return mm_; }
    [[nodiscard]] const Profile& profile() const { return profile_; }
    // models kvm_dirty_log_manual_protect_and_init_set(), include/linux/kvm_host.h
    [[nodiscard]] bool dirty_log_manual_protect_and_init_set() const {
        return (manual_dirty_log_protect_ & (dirtylog::ManualProtectEnable | dirtylog::InitiallySet)) ==
               (dirtylog::ManualProtectEnable | dirtylog::InitiallySet);
    }
    [[nodiscard]] const KvmArch& arch() const { return *arch_; }
    [[nodiscard]] Trace& trace() const { return trace_; }
    [[nodiscard]] std::uint64_t nr_memslot_pages() const { return nr_memslot_pages_; }
    // Every address space's invariants plus the VM-wide ones (model/kvm/invariants.h); last_gens
    // holds the generations seen by the previous call (they only grow), updated here.
    [[nodiscard]] std::optional<std::string> check_invariants(std::vector<std::uint64_t>& last_gens) const;

private:
    KvmResult set_memory_region(const kvm_userspace_memory_region& mem);
    KvmResult set_memslot(kvm_memory_slot* old, std::unique_ptr<kvm_memory_slot> new_slot, kvm_mr_change change);
    [[nodiscard]] std::uint32_t valid_memslot_flags() const;
    void alloc_dirty_bitmap(kvm_memory_slot& slot) const;

    HostMm& mm_;
    Profile profile_;
    std::unique_ptr<KvmArch> arch_;
    mutable Trace trace_;
    std::vector<std::unique_ptr<kvm_memslots>> memslots_;  // one per address space
    std::map<std::uint32_t, kvm_vcpu> vcpus_;
    std::uint64_t nr_memslot_pages_ = 0;
    unsigned nr_memslots_dirty_logging_ = 0;
    std::uint64_t manual_dirty_log_protect_ = 0;  // kvm->manual_dirty_log_protect
};

}  // namespace kvmsim
