// KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG.
#include "kvm.h"

#include <algorithm>

namespace kvmsim {

// models kvm_get_dirty_log_protect(), virt/kvm/kvm_main.c (x86's kvm_vm_ioctl_get_dirty_log())
DirtyLog kvm::get_dirty_log(std::uint32_t slot_field) {
    const bool multi_as = profile_.has(Patch::MultiAddressSpace);
    const unsigned as_id = multi_as ? (slot_field >> 16) : 0;
    const std::uint32_t id = multi_as ? (slot_field & 0xffff) : slot_field;
    if (as_id >= nr_as_ids() || id >= arch_->user_mem_slots(profile_)) return {KvmResult::error(Errno::Einval), {}};
    kvm_memory_slot* slot = memslots_[as_id]->id_to_memslot(static_cast<std::uint16_t>(id));
    if (!slot || slot->dirty_bitmap.empty()) {
        trace_.emit("kvm_get_dirty_log_protect", [] { return std::string("slot absent or not logging -> ENOENT"); });
        return {KvmResult::error(Errno::Enoent), {}};
    }
    DirtyLog log{KvmResult::ok(), slot->dirty_bitmap};
    trace_.emit("kvm_get_dirty_log_protect", [&] {
        std::size_t dirty = 0;
        for (const std::uint64_t w : slot->dirty_bitmap) dirty += static_cast<std::size_t>(__builtin_popcountll(w));
        return "slot " + std::to_string(id) + ": " + std::to_string(dirty) + " dirty page(s) copied out" +
               ((manual_dirty_log_protect_ & dirtylog::ManualProtectEnable) ? ", bits kept (manual protect)" : ", bits cleared");
    });
    // Without manual protection the ioctl takes the bits: each read returns what was dirtied since.
    if (!(manual_dirty_log_protect_ & dirtylog::ManualProtectEnable)) std::fill(slot->dirty_bitmap.begin(), slot->dirty_bitmap.end(), 0);
    return log;
}

// models kvm_clear_dirty_log_protect(), virt/kvm/kvm_main.c
KvmResult kvm::clear_dirty_log(std::uint32_t slot_field, std::uint64_t first_page, std::uint32_t num_pages,
                               const std::vector<std::uint64_t>& bitmap) {
    if (!profile_.has(Patch::ClearDirtyLog)) return KvmResult::error(Errno::Enotty);  // the ioctl does not exist yet
    const unsigned as_id = slot_field >> 16;
    const std::uint32_t id = slot_field & 0xffff;
    if (as_id >= nr_as_ids() || id >= arch_->user_mem_slots(profile_)) return KvmResult::error(Errno::Einval);
    if (first_page & 63) return KvmResult::error(Errno::Einval);
    kvm_memory_slot* slot = memslots_[as_id]->id_to_memslot(static_cast<std::uint16_t>(id));
    if (!slot || slot->dirty_bitmap.empty()) {
        trace_.emit("kvm_clear_dirty_log_protect", [] { return std::string("slot absent or not logging -> ENOENT"); });
        return KvmResult::error(Errno::Enoent);
    }
    trace_.emit("kvm_clear_dirty_log_protect", [&] { return "slot " + std::to_string(id) + ": clear pages [" + hex(first_page) + ", +" + std::to_string(num_pages) + ")"; });
    if (first_page > slot->npages || num_pages > slot->npages - first_page ||
        (num_pages < slot->npages - first_page && (num_pages & 63)))
        return KvmResult::error(Errno::Einval);
    for (std::uint64_t i = 0; i < num_pages; ++i) {
        const bool requested = i / 64 < bitmap.size() && ((bitmap[i / 64] >> (i % 64)) & 1);
        if (!requested) continue;
        const std::uint64_t page = first_page + i;
        slot->dirty_bitmap[page / 64] &= ~(std::uint64_t{1} << (page % 64));
    }
    return KvmResult::ok();
}

}  // namespace kvmsim
