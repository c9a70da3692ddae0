#include "arm64_arch.h"

#include <bit>

#include "../kvm/kvm.h"
#include "../profile/profile.h"

namespace kvmsim {

// KVM_USER_MEM_SLOTS: arm64 had 512 until "KVM: Raise the maximum number of user memslots"
// (v5.12) made every arch without internal slots use KVM_MEM_SLOTS_NUM = SHRT_MAX.
unsigned Arm64Arch::user_mem_slots(const Profile& profile) const { return profile.has(Patch::UserMemSlots32764) ? 32767 : 512; }

// KVM_MEM_SLOTS_NUM: arm64 has no internal slots (KVM_INTERNAL_MEM_SLOTS 0).
unsigned Arm64Arch::mem_slots_num(const Profile& profile) const { return user_mem_slots(profile); }

// kvm_arch_has_readonly_mem(): the generic default, CONFIG_HAVE_KVM_READONLY_MEM, which arm64
// selects once it supports read-only slots. No CCA version overrides it for realms, so a realm
// accepts KVM_MEM_READONLY even while its VM fd answers KVM_CAP_READONLY_MEM with 0.
bool Arm64Arch::has_readonly_mem(const Profile& profile) const { return profile.has(Patch::Arm64ReadonlyMem); }

std::uint32_t Arm64Arch::slot_lock_flags(std::uint16_t id) const {
    auto it = slot_lock_.find(id);
    return it == slot_lock_.end() ? 0 : it->second;
}

void Arm64Arch::set_slot_lock_flags(std::uint16_t id, std::uint32_t flags) {
    if (flags) slot_lock_[id] = flags;
    else slot_lock_.erase(id);
}

bool Arm64Arch::any_vcpu_mutex_held() const {
    for (const auto& [id, v] : vcpus_)
        if (v.mutex_held) return true;
    return false;
}

bool Arm64Arch::any_vcpu_has_run() const {
    for (const auto& [id, v] : vcpus_)
        if (v.has_run_once) return true;
    return false;
}

void Arm64Arch::realm_granule_access(Gpa ipa, std::span<std::uint8_t> buf, bool write) {
    for (std::size_t i = 0; i < buf.size(); ++i) {
        if (write) {
            realm_bytes_[ipa.value() + i] = buf[i];
        } else {
            auto it = realm_bytes_.find(ipa.value() + i);
            buf[i] = it == realm_bytes_.end() ? 0 : it->second;
        }
    }
}

// models kvm_arch_prepare_memory_region(), arch/arm64/kvm/mmu.c, with the lock RFC's
// "Deny changes to locked memslots" (v4 08/39) in front of the arch's own filtering.
KvmResult Arm64Arch::prepare_memory_region(const Profile& profile, const kvm_memory_slot* old, const kvm_memory_slot& new_slot,
                                           kvm_mr_change change) const {
    if (profile.has(Patch::LockDenyChanges) && old && slot_lock_flags(old->id)) {
        // Only turning dirty logging on is allowed, and only for a slot not locked for write:
        // a write-locked page cannot be write-protected for logging.
        const bool logging = (new_slot.flags & memflag::LogDirtyPages) && !(new_slot.flags & memflag::Readonly);
        if (!(change == kvm_mr_change::FlagsOnly && logging && !(slot_lock_flags(old->id) & memslot_lock::Write)))
            return KvmResult::error(Errno::Ebusy);
    }
    if (change != kvm_mr_change::Create && change != kvm_mr_change::Move && change != kvm_mr_change::FlagsOnly) return KvmResult::ok();
    // The slot must end inside the VM's IPA space (kvm_phys_size()).
    if (new_slot.base_gfn.value() + new_slot.npages > (std::uint64_t{1} << (type_.ipa_bits - PAGE_SHIFT))) return KvmResult::error(Errno::Efault);
    // A VM_PFNMAP mapping cannot be dirty-logged.
    if (new_slot.flags & memflag::LogDirtyPages) {
        const Hva start = new_slot.userspace_addr, end = new_slot.hva_end();
        for (const auto& [base, vma] : mm_.vmas())
            if (vma.vm_start < end && vma.vm_end > start && vma.is_pfnmap()) return KvmResult::error(Errno::Einval);
    }
    return KvmResult::ok();
}

// models kvm_arch_flush_shadow_memslot(), arch/arm64/kvm/mmu.c: a slot being deleted or
// moved loses its stage-2 mappings, locked or not (the lock RFC refuses the change only later,
// in prepare, so a refused DELETE of a locked slot still leaves it unmapped).
void Arm64Arch::flush_shadow_memslot(kvm& vm, const kvm_memory_slot& slot) {
    const std::uint64_t n = stage2_.unmap(slot.base_gfn, slot.end_gfn());
    vm.trace().emit("kvm_arch_flush_shadow_memslot", [&] { return "slot " + std::to_string(slot.id) + ": " + std::to_string(n) + " stage-2 pages unmapped"; });
}

// models kvm_unmap_gfn_range(), arch/arm64/kvm/mmu.c
void Arm64Arch::unmap_gfn_range(kvm& vm, const kvm_memory_slot&, Gfn start, Gfn end) {
    const std::uint64_t n = stage2_.unmap(start, end);
    if (n) vm.trace().emit("kvm_unmap_gfn_range", [&] { return std::to_string(n) + " stage-2 pages unmapped"; });
}

// models kvm_arch_commit_memory_region(), arch/arm64/kvm/mmu.c: a slot that logs dirty pages
// is write-protected at stage 2 in one go, so that the next write faults and is logged; with
// KVM_DIRTY_LOG_INITIALLY_SET every page already reads dirty and KVM_CLEAR_DIRTY_LOG protects
// gradually instead.
void Arm64Arch::commit_memory_region(kvm& vm, std::uint32_t, const kvm_memory_slot& new_slot, kvm_mr_change change) {
    if (!(new_slot.flags & memflag::LogDirtyPages) || change == kvm_mr_change::Delete) return;
    if (vm.dirty_log_manual_protect_and_init_set()) {
        vm.trace().emit("kvm_arch_commit_memory_region", [&] { return "slot " + std::to_string(new_slot.id) + ": initially-all-set, not write-protected"; });
        return;
    }
    stage2_.wrprotect(new_slot.base_gfn, new_slot.end_gfn());
    vm.trace().emit("kvm_mmu_wp_memory_region", [&] { return "slot " + std::to_string(new_slot.id) + " write-protected at stage 2 for dirty logging"; });
}

// models kvm_arch_mmu_enable_log_dirty_pt_masked(), arch/arm64/kvm/mmu.c: one stage2_wp_range()
// from the lowest to the highest page of the mask, so the pages between them whose bits were
// not in the mask are write-protected too.
void Arm64Arch::mmu_enable_log_dirty_pt_masked(kvm& vm, const kvm_memory_slot& slot, std::uint64_t gfn_offset, std::uint64_t mask) {
    const Gfn base = slot.base_gfn + gfn_offset;
    const Gfn start = base + static_cast<std::uint64_t>(std::countr_zero(mask));
    const Gfn end = base + static_cast<std::uint64_t>(63 - std::countl_zero(mask)) + 1;
    stage2_.wrprotect(start, end);
    vm.trace().emit("kvm_arch_mmu_enable_log_dirty_pt_masked", [&] {
        return "stage2_wp_range gfn " + hex(start.value()) + "-" + hex(end.value() - 1) + " (mask " + hex(mask) + ")";
    });
}

}  // namespace kvmsim
