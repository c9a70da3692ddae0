#include "lock_memslot.h"

#include <string>
#include <vector>

#include "../kvm/kvm.h"
#include "arm64_arch.h"

namespace kvmsim {
namespace {

KvmResult refuse(kvm& vm, const char* fn, Errno e, const std::string& why) {
    vm.trace().emit(fn, [&] { return why + " -> " + std::string(to_string(e)); });
    return KvmResult::error(e);
}

// models unlock_memslot(), arch/arm64/kvm/mmu.c (RFC): unpin, uncharge, clear the lock bits.
// Stage 2 stays mapped; v5 07/38 unmaps it if no vCPU has run since the lock, so that the
// first fault does the cache maintenance the lock deferred.
void unlock_memslot(kvm& vm, Arm64Arch& arch, const kvm_memory_slot& slot) {
    VmmProcess& proc = arch.process();
    if (slot.npages > proc.locked_vm) {
        // account_locked_vm(mm, npages, false): WARN_ON_ONCE(pages > locked_vm), then subtract.
        vm.trace().emit("account_locked_vm", [] { return std::string("WARN: uncharging more pages than mm->locked_vm holds"); });
        proc.locked_vm = 0;
    } else {
        proc.locked_vm -= slot.npages;
    }
    arch.set_slot_lock_flags(slot.id, 0);
    std::string what = "slot " + std::to_string(slot.id) + " unpinned (" + std::to_string(slot.npages) + " pages)";
    if (vm.profile().has(Patch::LockV5UnmapOnUnlock) && arch.mmu_pending_ops()) {
        arch.stage2().unmap(slot.base_gfn, slot.end_gfn());
        what += "; no vCPU ran since the lock (pending ops), so stage 2 is unmapped too";
    } else {
        what += "; stage-2 mappings left in place";
    }
    vm.trace().emit("unlock_memslot", [&] { return what; });
}

}  // namespace

std::uint32_t lock_cap_number(const Profile& profile) { return profile.has(Patch::LockV5Cap207) ? 207 : 206; }

bool kvm_arm_lock_memslot_supported(const Profile& profile) { return profile.has(Patch::LockAllow); }

KvmResult kvm_lock_user_memory_region_ioctl(kvm& vm, Arm64Arch& arch, std::uint32_t action, const std::array<std::uint64_t, 4>& args) {
    const char* fn = "kvm_lock_user_memory_region_ioctl";
    if (args[2] || args[3]) return refuse(vm, fn, Errno::Einval, "args[2] or args[3] not 0");
    const std::uint64_t slot = args[0];
    const std::uint64_t perm = args[1];
    switch (action) {
    case lock_action::Lock: return kvm_mmu_lock_memslot(vm, arch, slot, perm);
    case lock_action::Unlock: return kvm_mmu_unlock_memslot(vm, arch, slot, perm);
    default: return refuse(vm, fn, Errno::Einval, "cap->flags " + hex(action) + " is neither exactly LOCK nor exactly UNLOCK");
    }
}

KvmResult kvm_mmu_lock_memslot(kvm& vm, Arm64Arch& arch, std::uint64_t slot_id, std::uint64_t perm) {
    const char* fn = "kvm_mmu_lock_memslot";
    const Profile& profile = vm.profile();
    if (slot_id >= arch.mem_slots_num(profile))
        return refuse(vm, fn, Errno::Einval, "slot " + std::to_string(slot_id) + " >= KVM_MEM_SLOTS_NUM (" + std::to_string(arch.mem_slots_num(profile)) + ")");
    if (!(perm & lock_perm::Read)) return refuse(vm, fn, Errno::Einval, "KVM_ARM_LOCK_MEM_READ missing from args[1]");
    // kvm_lock_all_vcpus(): a try-lock of every vcpu->mutex (v5's documentation says it blocks;
    // its code still returns EBUSY).
    if (arch.any_vcpu_mutex_held()) return refuse(vm, fn, Errno::Ebusy, "a vCPU mutex is held (vCPU in KVM_RUN or another ioctl)");
    if (!profile.has(Patch::LockV5RunAllowed) && arch.any_vcpu_has_run()) return refuse(vm, fn, Errno::Ebusy, "a vCPU has already run");

    kvm_memory_slot* slot = vm.memslots(0).id_to_memslot(static_cast<std::uint16_t>(slot_id));
    if (!slot) return refuse(vm, fn, Errno::Einval, "no memslot " + std::to_string(slot_id));
    if ((perm & lock_perm::Write) && (memslot_is_readonly(*slot) || !slot->dirty_bitmap.empty()))
        return refuse(vm, fn, Errno::Eperm, "KVM_ARM_LOCK_MEM_WRITE on a read-only or dirty-logging slot");
    if (!profile.has(Patch::LockImpl)) return refuse(vm, fn, Errno::Einval, "patch 02 only checks usage: nothing to lock with yet");
    if (arch.slot_lock_flags(slot->id)) return refuse(vm, fn, Errno::Ebusy, "slot already locked");

    VmmProcess& proc = arch.process();
    if (!proc.cap_ipc_lock && proc.locked_vm + slot->npages > proc.rlimit_memlock / PAGE_SIZE)
        return refuse(vm, fn, Errno::Enomem, "locked_vm + " + std::to_string(slot->npages) + " pages exceeds RLIMIT_MEMLOCK");

    // Pin every page (pin_user_pages with FOLL_LONGTERM, + FOLL_WRITE for a write lock): a hole
    // or a mapping without the permission stops the lock with nothing kept.
    const bool write = perm & lock_perm::Write;
    std::vector<Stage2Pte> ptes;
    ptes.reserve(slot->npages < 4096 ? slot->npages : 4096);
    for (std::uint64_t i = 0; i < slot->npages; ++i) {
        const Hva hva = slot->userspace_addr + i * PAGE_SIZE;
        const GupResult gup = vm.mm().get_user_page(hva, write);
        if (!gup.pfn) return refuse(vm, fn, Errno::Enomem, "pin_user_pages failed at " + hex(hva.value()));
        ptes.push_back(Stage2Pte{hva, *gup.pfn, Stage2Prot{.r = true, .w = write, .x = false}});
    }
    // Map the whole slot at stage 2 with the lock's permissions, page by page.
    for (std::uint64_t i = 0; i < slot->npages; ++i) arch.stage2().map(Gfn(slot->base_gfn.value() + i), ptes[i]);
    proc.locked_vm += slot->npages;
    arch.set_slot_lock_flags(slot->id, memslot_lock::Read | (write ? memslot_lock::Write : 0));
    // 04/39: the data cache clean is deferred to the next KVM_RUN.
    arch.mmu_pending_ops() |= pending_ops::FlushDcache;
    vm.trace().emit(fn, [&] {
        return "slot " + std::to_string(slot->id) + ": " + std::to_string(slot->npages) + " pages pinned and mapped at stage 2 " +
               (write ? "RW" : "R") + "; dcache clean deferred to the next KVM_RUN -> 0";
    });
    return KvmResult::ok();
}

KvmResult kvm_mmu_unlock_memslot(kvm& vm, Arm64Arch& arch, std::uint64_t slot_id, std::uint64_t flags) {
    const char* fn = "kvm_mmu_unlock_memslot";
    const Profile& profile = vm.profile();
    if (!profile.has(Patch::LockImpl)) {
        // Patch 02: the same checks, each ending in EINVAL, UNLOCK_MEM_ALL first.
        if (flags & KVM_ARM_UNLOCK_MEM_ALL) return refuse(vm, fn, Errno::Einval, "KVM_ARM_UNLOCK_MEM_ALL (patch 02 placeholder)");
        if (slot_id >= arch.mem_slots_num(profile)) return refuse(vm, fn, Errno::Einval, "slot >= KVM_MEM_SLOTS_NUM");
        if (!vm.memslots(0).id_to_memslot(static_cast<std::uint16_t>(slot_id))) return refuse(vm, fn, Errno::Einval, "no such memslot");
        return refuse(vm, fn, Errno::Einval, "patch 02 only checks usage: nothing to unlock with yet");
    }
    if (flags & KVM_ARM_UNLOCK_MEM_ALL) {
        unsigned n = 0;
        vm.memslots(0).for_each([&](const kvm_memory_slot& slot) {
            if (arch.slot_lock_flags(slot.id)) unlock_memslot(vm, arch, slot), ++n;
        });
        vm.trace().emit(fn, [&] { return "KVM_ARM_UNLOCK_MEM_ALL: " + std::to_string(n) + " slots unlocked -> 0"; });
        return KvmResult::ok();
    }
    if (slot_id >= arch.mem_slots_num(profile)) return refuse(vm, fn, Errno::Einval, "slot " + std::to_string(slot_id) + " >= KVM_MEM_SLOTS_NUM");
    kvm_memory_slot* slot = vm.memslots(0).id_to_memslot(static_cast<std::uint16_t>(slot_id));
    if (!slot) return refuse(vm, fn, Errno::Einval, "no memslot " + std::to_string(slot_id));
    if (!arch.slot_lock_flags(slot->id)) {
        if (profile.has(Patch::LockV5UnlockEinval)) return refuse(vm, fn, Errno::Einval, "slot is not locked");
        // v4 has no check: unlock_memslot() walks a pin list that was never filled and
        // uncharges npages. The kernel's outcome is undefined; kvmsim takes the list as empty.
        vm.trace().emit(fn, [] { return std::string("v4: slot is not locked, unlocked anyway (undefined in the kernel; modelled as an empty pin list)"); });
    }
    unlock_memslot(vm, arch, *slot);
    return KvmResult::ok();
}

}  // namespace kvmsim
