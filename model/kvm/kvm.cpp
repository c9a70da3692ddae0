#include "kvm.h"

#include <algorithm>

namespace kvmsim {

kvm::kvm(HostMm& mm, Profile profile, std::unique_ptr<KvmArch> arch)
    : mm_(mm), profile_(std::move(profile)), arch_(std::move(arch)) {
    const unsigned n = arch_->nr_memslot_as_ids(profile_);
    for (unsigned as = 0; as < n; ++as) memslots_.push_back(std::make_unique<kvm_memslots>(static_cast<std::uint16_t>(as)));
}

namespace {

// The generic answers older kernel profiles have a history for (each gated by its patch); the
// other generic answers are 6.18's, so before 6.8 (no KVM_CAP_USER_MEMORY2) they are not given.
bool answered_by_every_profile(Cap cap) {
    switch (cap) {
    case Cap::UserMemory:
    case Cap::DestroyMemoryRegionWorks:
    case Cap::JoinMemoryRegionsWorks:
    case Cap::NrMemslots:
    case Cap::MultiAddressSpace:
    case Cap::ManualDirtyLogProtect2:
    case Cap::CoalescedMmio:
    case Cap::SyncMmu:
    case Cap::NrVcpus:
    case Cap::MaxVcpus:
    case Cap::ReadonlyMem:
    case Cap::DirtyLogRing:
    case Cap::UserMemory2:
    case Cap::MemoryFaultInfo:
    case Cap::MemoryAttributes:
    case Cap::GuestMemfd:
    case Cap::VmTypes:
        return true;
    default:
        return false;
    }
}

// The generic answers 6.18 gives that the older profiles have no history for.
bool generic_only_in_618(Cap cap) {
    switch (cap) {
    case Cap::InternalErrorData:
    case Cap::SignalMsi:
    case Cap::Irqfd:
    case Cap::IoeventfdAnyLength:
    case Cap::CheckExtensionVm:
    case Cap::EnableCapVm:
    case Cap::HaltPoll:
    case Cap::CoalescedPio:
    case Cap::BinaryStatsFd:
    case Cap::SystemEventData:
    case Cap::DeviceCtrl:
    case Cap::IrqRouting:
    case Cap::DirtyLogRingAcqRel:
    case Cap::DirtyLogRingWithBitmap:
    case Cap::GuestMemfdFlags:
        return true;
    default:
        return false;
    }
}

}  // namespace

// models kvm_vm_ioctl_check_extension_generic(), virt/kvm/kvm_main.c (6.18)
std::optional<long> kvm::check_extension(Cap cap, CheckOn on) const {
    const bool vm_fd = on == CheckOn::VmFd;
    const bool modern = profile_.has(Patch::UserMemory2);
    // Before 6.8 only the arch knows which of its answers the profile has a history for.
    if (!modern && generic_only_in_618(cap)) return std::nullopt;
    if (!modern && !answered_by_every_profile(cap)) return arch_->check_extension(profile_, cap, vm_fd);
    const GenericCapConfig c = arch_->generic_cap_config(vm_fd);
    constexpr long kDirtyRingBytes = 65536 * 16;  // KVM_DIRTY_RING_MAX_ENTRIES * sizeof(struct kvm_dirty_gfn)
    // The generic switch runs first, so an arch (or realm) allow-list never hides these.
    switch (cap) {
    case Cap::UserMemory:
    case Cap::DestroyMemoryRegionWorks:
    case Cap::JoinMemoryRegionsWorks:
        return 1;
    case Cap::UserMemory2:
        if (!modern) break;
        return 1;
    case Cap::InternalErrorData:
    case Cap::SignalMsi:           // CONFIG_HAVE_KVM_MSI (x86, arm64)
    case Cap::Irqfd:               // CONFIG_HAVE_KVM_IRQCHIP (x86, arm64)
    case Cap::IoeventfdAnyLength:
    case Cap::CheckExtensionVm:
    case Cap::EnableCapVm:
    case Cap::HaltPoll:
    case Cap::CoalescedPio:        // CONFIG_KVM_MMIO
    case Cap::BinaryStatsFd:
    case Cap::SystemEventData:
    case Cap::DeviceCtrl:
        return 1;
    case Cap::CoalescedMmio:       // CONFIG_KVM_MMIO: x86 and arm64 both select it
        return c.coalesced_mmio_page_offset;
    case Cap::IrqRouting:          // CONFIG_HAVE_KVM_IRQ_ROUTING
        return 4096;               // KVM_MAX_IRQ_ROUTES
    case Cap::NrMemslots:
        return arch_->user_mem_slots(profile_);
    case Cap::MultiAddressSpace:
        // Compiled only where the arch has more than one address space (x86 with SMM).
        if (arch_->max_nr_address_spaces(profile_) < 2) break;
        return vm_fd ? arch_->nr_memslot_as_ids(profile_) : arch_->max_nr_address_spaces(profile_);
    case Cap::ManualDirtyLogProtect2:
        return profile_.has(Patch::ClearDirtyLog) ? (dirtylog::ManualProtectEnable | dirtylog::InitiallySet) : 0;
    case Cap::DirtyLogRing:
        if (!profile_.has(Patch::DirtyRing)) break;
        return c.dirty_ring_tso ? kDirtyRingBytes : 0;
    case Cap::DirtyLogRingAcqRel:
        return c.dirty_ring_acq_rel ? kDirtyRingBytes : 0;
    case Cap::DirtyLogRingWithBitmap:
        if (!c.dirty_ring_with_bitmap) break;
        return 1;
    case Cap::GuestMemfd:
    case Cap::GuestMemfdFlags:
        if (!modern) break;
        if (!c.guest_memfd) return std::nullopt;
        if (!*c.guest_memfd) break;  // not built: no case here, and the arch does not know it either
        if (cap == Cap::GuestMemfd) {
            // d1e54dd08f16 made it 1; before it: !kvm || kvm_arch_has_private_mem(kvm).
            if (profile_.has(Patch::GuestMemfdAllVms)) return 1;
            return !vm_fd || c.has_private_mem ? 1 : 0;
        }
        return c.guest_memfd_flags;
    case Cap::MemoryAttributes:
        if (!modern || !c.generic_memory_attributes) break;
        // kvm_supported_mem_attributes(): !kvm || kvm_arch_has_private_mem(kvm) -> KVM_MEMORY_ATTRIBUTE_PRIVATE
        return !vm_fd || c.has_private_mem ? 8 : 0;
    default:
        break;
    }
    return arch_->check_extension(profile_, cap, vm_fd);
}

// models kvm_vm_ioctl_enable_cap_generic(), virt/kvm/kvm_main.c
KvmResult kvm::enable_cap(Cap cap, std::uint32_t flags, const std::array<std::uint64_t, 4>& args) {
    if (cap == Cap::ManualDirtyLogProtect2 && profile_.has(Patch::ClearDirtyLog)) {
        std::uint64_t allowed = dirtylog::ManualProtectEnable;
        if (args[0] & dirtylog::ManualProtectEnable) allowed |= dirtylog::InitiallySet;
        if (flags || (args[0] & ~allowed)) return KvmResult::error(Errno::Einval);
        manual_dirty_log_protect_ = args[0];
        return KvmResult::ok();
    }
    return arch_->vm_ioctl_enable_cap(*this, cap, flags, args);
}

// The default arch hooks (model/kvm/arch.h).
KvmResult KvmArch::vm_ioctl_enable_cap(kvm& vm, Cap cap, std::uint32_t, const std::array<std::uint64_t, 4>&) {
    // kvm_vm_ioctl_enable_cap() of the arch: nothing else is modelled, and the arch's default is EINVAL.
    vm.trace().emit("kvm_vm_ioctl_enable_cap", [&] { return to_string(cap) + " not enabled by this model -> EINVAL"; });
    return KvmResult::error(Errno::Einval);
}
void KvmArch::flush_shadow_memslot(kvm&, const kvm_memory_slot&) {}
void KvmArch::mmu_enable_log_dirty_pt_masked(kvm&, const kvm_memory_slot&, std::uint64_t, std::uint64_t) {}
void KvmArch::unmap_gfn_range(kvm&, const kvm_memory_slot&, Gfn, Gfn) {}
void KvmArch::commit_memory_region(kvm&, std::uint32_t, const kvm_memory_slot&, kvm_mr_change) {}

// models kvm_set_memslot() with kvm_commit_memory_region(), virt/kvm/kvm_main.c
KvmResult kvm::set_memslot(kvm_memory_slot* old, std::unique_ptr<kvm_memory_slot> new_slot, kvm_mr_change change) {
    const std::uint16_t as_id = old ? old->as_id : new_slot->as_id;
    const std::uint16_t id = old ? old->id : new_slot->id;
    const std::uint32_t old_flags = old ? old->flags : 0;
    kvm_memslots& slots = *memslots_[as_id];
    const unsigned nr_as = nr_as_ids();

    // DELETE and MOVE first publish an INVALID copy of the old slot (one generation step), so
    // that no vCPU keeps using the old gfn range while it is zapped.
    const bool invalidate = change == kvm_mr_change::Delete || change == kvm_mr_change::Move;
    if (invalidate) {
        slots.bump_generation(nr_as);
        arch_->flush_shadow_memslot(*this, *old);
    }

    const KvmResult prepared = arch_->prepare_memory_region(profile_, old, new_slot ? *new_slot : *old, change);
    if (!prepared.is_ok()) {
        if (invalidate) slots.bump_generation(nr_as);  // the old slot is swapped back in
        trace_.emit("kvm_arch_prepare_memory_region", [&] { return "refused -> " + std::string(to_string(*prepared.err())); });
        return prepared;
    }

    auto describe = [](const kvm_memory_slot& s) {
        return "slot " + std::to_string(s.as_id) + ":" + std::to_string(s.id) + " gfn [" + hex(s.base_gfn.value()) + ", " +
               hex(s.end_gfn().value()) + ") hva " + hex(s.userspace_addr.value()) + " flags " + hex(s.flags);
    };

    switch (change) {
    case kvm_mr_change::Delete: {
        if (kvm_slot_dirty_track_enabled(*old)) --nr_memslots_dirty_logging_;
        nr_memslot_pages_ -= old->npages;
        trace_.emit("kvm_set_memslot", [&] { return "DELETE " + describe(*old); });
        slots.erase(old->id);
        break;
    }
    case kvm_mr_change::Create: {
        if (kvm_slot_dirty_track_enabled(*new_slot)) {
            alloc_dirty_bitmap(*new_slot);
            ++nr_memslots_dirty_logging_;
        }
        nr_memslot_pages_ += new_slot->npages;
        trace_.emit("kvm_set_memslot", [&] { return "CREATE " + describe(*new_slot); });
        slots.insert(std::move(new_slot));
        break;
    }
    case kvm_mr_change::Move:
    case kvm_mr_change::FlagsOnly: {
        const bool was_logging = kvm_slot_dirty_track_enabled(*old);
        const bool logging = kvm_slot_dirty_track_enabled(*new_slot);
        // kvm_prepare_memory_region(): the old bitmap carries over while logging stays on.
        if (logging && !was_logging) alloc_dirty_bitmap(*old);
        if (!logging) old->dirty_bitmap.free();
        if (logging != was_logging) logging ? ++nr_memslots_dirty_logging_ : --nr_memslots_dirty_logging_;
        trace_.emit("kvm_set_memslot", [&] {
            return std::string(change == kvm_mr_change::Move ? "MOVE " : "FLAGS_ONLY ") + describe(*new_slot);
        });
        if (change == kvm_mr_change::Move) slots.move(*old, new_slot->base_gfn);
        old->flags = new_slot->flags;
        break;
    }
    }
    slots.bump_generation(nr_as);
    if (change != kvm_mr_change::Delete) {
        if (const kvm_memory_slot* installed = slots.id_to_memslot(id)) arch_->commit_memory_region(*this, old_flags, *installed, change);
    }
    return KvmResult::ok();
}

// models kvm_alloc_dirty_bitmap(), virt/kvm/kvm_main.c, and the INITIALLY_SET fill in
// kvm_prepare_memory_region().
void kvm::alloc_dirty_bitmap(kvm_memory_slot& slot) const {
    slot.dirty_bitmap = DirtyBitmap(slot.npages);
    if (manual_dirty_log_protect_ & dirtylog::InitiallySet) slot.dirty_bitmap.set_all();
}

kvm_memory_slot* kvm::gfn_to_memslot(Gfn gfn) {
    const kvm_memslots& slots = *memslots_[0];
    if (slots.last_used_slot && slots.last_used_slot->contains(gfn)) return slots.last_used_slot;
    kvm_memory_slot* slot = slots.search_memslots(gfn);
    if (slot) slots.last_used_slot = slot;
    return slot;
}

kvm_memory_slot* kvm::vcpu_gfn_to_memslot(kvm_vcpu& vcpu, Gfn gfn) {
    const kvm_memslots& slots = *memslots_.at(vcpu.as_id);
    // A generation change drops the cache; generations differ per address space, so this also
    // keeps an SMM lookup from hitting a normal-mode slot.
    if (vcpu.last_used_slot_gen != slots.generation()) {
        vcpu.last_used_slot = nullptr;
        vcpu.last_used_slot_gen = slots.generation();
    }
    // try_get_memslot()
    if (vcpu.last_used_slot && vcpu.last_used_slot->contains(gfn)) return vcpu.last_used_slot;
    kvm_memory_slot* slot = slots.search_memslots(gfn);
    if (slot) vcpu.last_used_slot = slot;
    return slot;
}

void kvm::mark_page_dirty_in_slot(kvm_memory_slot* slot, Gfn gfn) {
    if (!slot || !kvm_slot_dirty_track_enabled(*slot) || slot->dirty_bitmap.empty()) return;
    const std::uint64_t rel = gfn.value() - slot->base_gfn.value();
    slot->dirty_bitmap.set(rel);
    trace_.emit("mark_page_dirty_in_slot", [&] {
        return "slot " + std::to_string(slot->id) + " page " + std::to_string(rel) + " (gfn " + hex(gfn.value()) + ") dirty";
    });
}

// models kvm_vm_ioctl_create_vcpu(), virt/kvm/kvm_main.c
KvmResult kvm::create_vcpu(std::uint32_t id) {
    auto refuse = [&](Errno e, const char* why) {
        trace_.emit("kvm_vm_ioctl_create_vcpu", [&] { return "vcpu id " + std::to_string(id) + ": " + why + " -> " + std::string(to_string(e)); });
        return KvmResult::error(e);
    };
    if (id >= arch_->max_vcpu_ids(profile_)) return refuse(Errno::Einval, "id at or past KVM_MAX_VCPU_IDS");
    if (vcpus_.size() >= arch_->max_vcpus(profile_)) return refuse(Errno::Einval, "KVM_MAX_VCPUS vCPUs exist already");
    if (vcpus_.contains(id)) return refuse(Errno::Eexist, "a vCPU with this id exists");
    kvm_vcpu& v = vcpus_[id];
    v.vcpu_id = id;
    trace_.emit("kvm_vm_ioctl_create_vcpu", [&] { return "vcpu id " + std::to_string(id) + " created (" + std::to_string(vcpus_.size()) + " in the VM)"; });
    return KvmResult::ok();
}

kvm_vcpu* kvm::vcpu(std::uint32_t id) {
    auto it = vcpus_.find(id);
    return it == vcpus_.end() ? nullptr : &it->second;
}

// models kvm_mmu_notifier_invalidate_range_start(), virt/kvm/kvm_main.c: the host is about to
// unmap or change [start, end); every slot mapping part of it has that gfn range zapped.
void kvm::mmu_notifier_invalidate_range(Hva start, Hva end) {
    for (const auto& slots : memslots_) {
        slots->for_each_in_hva_range(start, end, [&](kvm_memory_slot& slot) {
            trace_.emit("kvm_mmu_notifier_invalidate_range_start", [&] {
                const std::uint64_t from = std::max(start, slot.userspace_addr) - slot.userspace_addr;
                const std::uint64_t to = std::min(end, slot.hva_end()) - slot.userspace_addr;
                return "slot " + std::to_string(slot.as_id) + ":" + std::to_string(slot.id) + ": zap gfn [" +
                       hex(slot.base_gfn.value() + (from >> PAGE_SHIFT)) + ", " +
                       hex(slot.base_gfn.value() + ((to + PAGE_SIZE - 1) >> PAGE_SHIFT)) + ")";
            });
            const std::uint64_t from = std::max(start, slot.userspace_addr) - slot.userspace_addr;
            const std::uint64_t to = std::min(end, slot.hva_end()) - slot.userspace_addr;
            arch_->unmap_gfn_range(*this, slot, Gfn(slot.base_gfn.value() + (from >> PAGE_SHIFT)),
                                   Gfn(slot.base_gfn.value() + ((to + PAGE_SIZE - 1) >> PAGE_SHIFT)));
        });
    }
}

}  // namespace kvmsim
