// KVM_SET_USER_MEMORY_REGION: validation in the kernel's order, then the change itself.
#include "kvm.h"

namespace kvmsim {
namespace {

// KVM_MEM_MAX_NR_PAGES, include/linux/kvm_host.h: the dirty bitmap's bitops take an int.
constexpr std::uint64_t KVM_MEM_MAX_NR_PAGES = (std::uint64_t{1} << 31) - 1;

// models access_ok() for x86-64 (arch/x86/include/asm/uaccess_64.h): [addr, addr + size) must
// end at or below TASK_SIZE_MAX; whether it is mapped is not checked.
bool access_ok(std::uint64_t addr, std::uint64_t size) {
    return size <= TASK_SIZE_MAX && addr <= TASK_SIZE_MAX - size;
}

}  // namespace

// models check_memory_region_flags(), virt/kvm/kvm_main.c
std::uint32_t kvm::valid_memslot_flags() const {
    std::uint32_t valid = memflag::LogDirtyPages;
    // The readonly-memslot patch added KVM_MEM_READONLY, behind kvm_arch_has_readonly_mem()
    // since VMs with protected state (SEV-ES, SNP, TDX) cannot emulate the trapped writes.
    if (profile_.has(Patch::ReadonlyMemslot) && arch_->has_readonly_mem(profile_)) valid |= memflag::Readonly;
    return valid;
}

// models kvm_vm_ioctl_set_memory_region(), virt/kvm/kvm_main.c
KvmResult kvm::set_user_memory_region(const kvm_userspace_memory_region& mem) {
    // Before multiple address spaces the whole u32 was the slot id.
    const std::uint32_t id = profile_.has(Patch::MultiAddressSpace) ? (mem.slot & 0xffff) : mem.slot;
    if (id >= arch_->user_mem_slots(profile_)) {
        trace_.emit("kvm_vm_ioctl_set_memory_region", [&] {
            return "slot id " + std::to_string(id) + " >= KVM_USER_MEM_SLOTS (" +
                   std::to_string(arch_->user_mem_slots(profile_)) + ") -> EINVAL";
        });
        return KvmResult::error(Errno::Einval);
    }
    return set_memory_region(mem);
}

// models kvm_set_memory_region() (__kvm_set_memory_region() before 6.14), virt/kvm/kvm_main.c
KvmResult kvm::set_memory_region(const kvm_userspace_memory_region& mem) {
    auto refuse = [&](Errno e, const char* why) {
        trace_.emit("__kvm_set_memory_region", [&] { return std::string(why) + " -> " + std::string(to_string(e)); });
        return KvmResult::error(e);
    };

    if (profile_.has(Patch::FlagsCheck) && (mem.flags & ~valid_memslot_flags()))
        return refuse(Errno::Einval, "check_memory_region_flags: flag outside the valid set");

    const bool multi_as = profile_.has(Patch::MultiAddressSpace);
    const unsigned as_id = multi_as ? (mem.slot >> 16) : 0;
    const std::uint32_t id = multi_as ? (mem.slot & 0xffff) : mem.slot;

    if (mem.memory_size & (PAGE_SIZE - 1)) return refuse(Errno::Einval, "memory_size not a multiple of PAGE_SIZE");
    if (mem.guest_phys_addr & (PAGE_SIZE - 1)) return refuse(Errno::Einval, "guest_phys_addr not page aligned");
    if ((mem.userspace_addr & (PAGE_SIZE - 1)) || !access_ok(mem.userspace_addr, mem.memory_size))
        return refuse(Errno::Einval, "userspace_addr unaligned or outside the user address space (access_ok)");
    if (as_id >= arch_->nr_memslot_as_ids(profile_) || id >= arch_->mem_slots_num(profile_))
        return refuse(Errno::Einval, "address space id or slot id out of range");
    if (mem.guest_phys_addr + mem.memory_size < mem.guest_phys_addr)
        return refuse(Errno::Einval, "guest_phys_addr + memory_size wraps");
    if (id < arch_->user_mem_slots(profile_) && (mem.memory_size >> PAGE_SHIFT) > KVM_MEM_MAX_NR_PAGES)
        return refuse(Errno::Einval, "more than KVM_MEM_MAX_NR_PAGES pages");

    kvm_memslots& slots = *memslots_[as_id];
    kvm_memory_slot* old = slots.id_to_memslot(static_cast<std::uint16_t>(id));

    // Before the state-transition patch every request, a delete included, ran the overlap scan
    // with its own (possibly zero) size: a zero-size request whose gpa lies strictly inside
    // another slot got EEXIST.
    const bool overlap_scan_all = !profile_.has(Patch::DeleteNonexistentEinval);
    const Gfn base_gfn(mem.guest_phys_addr >> PAGE_SHIFT);
    const std::uint64_t npages = mem.memory_size >> PAGE_SHIFT;

    if (mem.memory_size == 0) {
        if (overlap_scan_all && slots.find_overlap(base_gfn, base_gfn, static_cast<std::uint16_t>(id)))
            return refuse(Errno::Eexist, "zero-size request inside another slot (overlap scan of every request)");
        if (!old) {
            if (profile_.has(Patch::DeleteNonexistentEinval)) return refuse(Errno::Einval, "delete of a slot that does not exist");
            trace_.emit("__kvm_set_memory_region", [] { return std::string("delete of an absent slot: nothing to do -> 0"); });
            return KvmResult::ok();
        }
        if (old->npages > nr_memslot_pages_) return refuse(Errno::Eio, "WARN: nr_memslot_pages accounting broken");
        return set_memslot(old, nullptr, kvm_mr_change::Delete);
    }

    kvm_mr_change change;
    std::uint64_t userspace_addr = mem.userspace_addr;
    if (!old) {
        change = kvm_mr_change::Create;
        if (nr_memslot_pages_ + npages < nr_memslot_pages_)
            return refuse(Errno::Einval, "nr_memslot_pages would overflow");
    } else {
        if (npages != old->npages) return refuse(Errno::Einval, "existing slot: memory_size may not change");
        if (mem.userspace_addr != old->userspace_addr.value()) {
            if (profile_.has(Patch::UaddrChangeEinval))
                return refuse(Errno::Einval, "existing slot: userspace_addr may not change");
            userspace_addr = old->userspace_addr.value();  // taken only on create: ignored
        }
        if (profile_.has(Patch::ReadonlyToggleEinval) && ((mem.flags ^ old->flags) & memflag::Readonly))
            return refuse(Errno::Einval, "existing slot: KVM_MEM_READONLY may not change");
        if (base_gfn != old->base_gfn) {
            change = kvm_mr_change::Move;
        } else if (mem.flags != old->flags) {
            change = kvm_mr_change::FlagsOnly;
        } else {
            trace_.emit("__kvm_set_memory_region", [] { return std::string("identical to the existing slot: nothing to do -> 0"); });
            return KvmResult::ok();
        }
    }

    if (overlap_scan_all || change == kvm_mr_change::Create || change == kvm_mr_change::Move) {
        const Gfn end(base_gfn.value() + npages);
        if (const kvm_memory_slot* other = slots.find_overlap(base_gfn, end, static_cast<std::uint16_t>(id))) {
            trace_.emit("kvm_check_memslot_overlap", [&] {
                return "gfn range [" + hex(base_gfn.value()) + ", " + hex(end.value()) + ") overlaps slot " +
                       std::to_string(other->id) + " -> EEXIST";
            });
            return KvmResult::error(Errno::Eexist);
        }
    }

    auto new_slot = std::make_unique<kvm_memory_slot>();
    new_slot->base_gfn = base_gfn;
    new_slot->npages = npages;
    new_slot->flags = mem.flags;
    new_slot->userspace_addr = Hva(userspace_addr);
    new_slot->id = static_cast<std::uint16_t>(id);
    new_slot->as_id = static_cast<std::uint16_t>(as_id);
    return set_memslot(old, std::move(new_slot), change);
}

}  // namespace kvmsim
