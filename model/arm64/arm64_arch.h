// The arm64 kvm_arch_* hooks (arch/arm64/kvm/arm.c, mmu.c) and the per-VM state they keep:
// the VM's type (normal or realm, IPA size), its stage-2 table, KVM_CAP_ARM_NISV_TO_USER,
// the memslot-lock RFC's lock bits, and the arm64 side of each vCPU.
#pragma once

#include <cstdint>
#include <map>
#include <span>

#include "../host/host_mm.h"
#include "../kvm/arch.h"
#include "platform.h"
#include "stage2.h"
#include "vgic.h"
#include "vm_type.h"

namespace kvmsim {

// kvm_arch_memory_slot.flags with the lock RFC (KVM_MEMSLOT_LOCK_READ / _WRITE).
namespace memslot_lock {
inline constexpr std::uint32_t Read = 1u << 0;
inline constexpr std::uint32_t Write = 1u << 1;
}  // namespace memslot_lock

// kvm->arch.mmu_pending_ops (lock RFC patches 04-06): cache maintenance deferred to the next KVM_RUN.
namespace pending_ops {
inline constexpr std::uint32_t FlushDcache = 1u << 0;
inline constexpr std::uint32_t InvalIcache = 1u << 1;
}  // namespace pending_ops

// The arm64 half of struct kvm_vcpu that the scenarios reach.
struct kvm_vcpu_arch {
    bool initialized = false;  // kvm_vcpu_initialized(): KVM_ARM_VCPU_INIT done
    bool has_run_once = false; // vcpu->arch.has_run_once
    bool mutex_held = false;   // another thread holds vcpu->mutex (inside KVM_RUN or an ioctl)
};

// The VMM process's memory-locking budget (mm->locked_vm against RLIMIT_MEMLOCK).
struct VmmProcess {
    std::uint64_t rlimit_memlock = 8ULL << 20;  // bytes; see docs/arm64.md
    std::uint64_t locked_vm = 0;                // pages
    bool cap_ipc_lock = false;
};

// models kvm_realm_ext_allowed() (CCA v12 08/46 and later): the caps a realm VM fd may report.
[[nodiscard]] bool realm_ext_allowed(const Profile& profile, Cap cap);
// Whether the model knows how arm64 answers KVM_CHECK_EXTENSION(cap) (model/arm64/check_extension.cpp).
[[nodiscard]] bool arm64_cap_modelled(Cap cap);

class Arm64Arch final : public KvmArch {
public:
    Arm64Arch(HostMm& mm, Arm64HostOptions host, Arm64VmType type) : mm_(mm), host_(host), type_(type) {}

    [[nodiscard]] unsigned user_mem_slots(const Profile& profile) const override;
    [[nodiscard]] unsigned mem_slots_num(const Profile& profile) const override;
    [[nodiscard]] unsigned nr_memslot_as_ids(const Profile&) const override { return 1; }
    [[nodiscard]] unsigned max_nr_address_spaces(const Profile&) const override { return 1; }
    [[nodiscard]] bool has_readonly_mem(const Profile& profile) const override;
    [[nodiscard]] std::optional<long> check_extension(const Profile& profile, Cap cap, bool vm_fd) const override;
    [[nodiscard]] GenericCapConfig generic_cap_config(bool vm_fd) const override;
    [[nodiscard]] KvmResult prepare_memory_region(const Profile& profile, const kvm_memory_slot* old,
                                                  const kvm_memory_slot& new_slot, kvm_mr_change change) const override;
    [[nodiscard]] unsigned max_vcpus(const Profile&) const override { return host_.default_max_vcpus; }
    [[nodiscard]] unsigned max_vcpu_ids(const Profile&) const override { return host_.default_max_vcpus; }
    KvmResult vm_ioctl_enable_cap(kvm& vm, Cap cap, std::uint32_t flags, const std::array<std::uint64_t, 4>& args) override;
    void flush_shadow_memslot(kvm& vm, const kvm_memory_slot& slot) override;
    void unmap_gfn_range(kvm& vm, const kvm_memory_slot& slot, Gfn start, Gfn end) override;
    void commit_memory_region(kvm& vm, std::uint32_t old_flags, const kvm_memory_slot& new_slot, kvm_mr_change change) override;
    void mmu_enable_log_dirty_pt_masked(kvm& vm, const kvm_memory_slot& slot, std::uint64_t gfn_offset, std::uint64_t mask) override;

    // models kvm_is_realm(), arch/arm64/include/asm/kvm_emulate.h (CCA)
    [[nodiscard]] bool is_realm() const { return type_.realm; }
    [[nodiscard]] unsigned ipa_bits() const { return type_.ipa_bits; }
    [[nodiscard]] const Arm64HostOptions& host() const { return host_; }
    [[nodiscard]] bool return_nisv_io_abort_to_user() const { return nisv_to_user_; }

    [[nodiscard]] Stage2& stage2() { return stage2_; }
    [[nodiscard]] kvm_vcpu_arch& vcpu_arch(std::uint32_t id) { return vcpus_[id]; }
    [[nodiscard]] std::uint32_t slot_lock_flags(std::uint16_t id) const;
    void set_slot_lock_flags(std::uint16_t id, std::uint32_t flags);
    [[nodiscard]] bool any_vcpu_mutex_held() const;
    [[nodiscard]] bool any_vcpu_has_run() const;
    [[nodiscard]] std::uint32_t& mmu_pending_ops() { return pending_ops_; }
    [[nodiscard]] VmmProcess& process() { return process_; }
    [[nodiscard]] Arm64Vgic& vgic() { return vgic_; }
    // kvm->vm_dead (struct kvm's, set by kvm_vm_dead(), include/linux/kvm_host.h): every VM, vCPU
    // and device ioctl fails with -EIO from then on. Only the vGIC's failed first run sets it here.
    [[nodiscard]] bool vm_dead() const { return vm_dead_; }
    void kvm_vm_dead() { vm_dead_ = true; }
    [[nodiscard]] HostMm& mm() { return mm_; }
    // The contents of a realm's protected granules (zero until the realm writes them), by byte.
    void realm_granule_access(Gpa ipa, std::span<std::uint8_t> buf, bool write);

private:
    HostMm& mm_;
    Arm64HostOptions host_;
    Arm64VmType type_;
    bool nisv_to_user_ = false;
    Stage2 stage2_;
    std::map<std::uint32_t, kvm_vcpu_arch> vcpus_;
    std::map<std::uint16_t, std::uint32_t> slot_lock_;  // slot id -> memslot_lock bits
    std::uint32_t pending_ops_ = 0;
    VmmProcess process_;
    Arm64Vgic vgic_;
    bool vm_dead_ = false;  // KVM_CREATE_DEVICE's GIC devices (vgic.h)
    std::map<std::uint64_t, std::uint8_t> realm_bytes_;  // written bytes of protected granules, by IPA
};

}  // namespace kvmsim
