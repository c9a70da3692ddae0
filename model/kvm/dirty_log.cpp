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
    // Without manual protection the ioctl takes the bits: each read returns what was dirtied since.
    if (!(manual_dirty_log_protect_ & dirtylog::ManualProtectEnable)) slot->dirty_bitmap.clear_all();
    return log;
}

// models kvm_clear_dirty_log_protect(), virt/kvm/kvm_main.c
KvmResult kvm::clear_dirty_log(std::uint32_t slot_field, std::uint64_t first_page, std::uint32_t num_pages,
                               const DirtyBitmap& bitmap) {
    if (!profile_.has(Patch::ClearDirtyLog)) return KvmResult::error(Errno::Enotty);  // the ioctl does not exist yet
    const unsigned as_id = slot_field >> 16;
    const std::uint32_t id = slot_field & 0xffff;
    if (as_id >= nr_as_ids() || id >= arch_->user_mem_slots(profile_)) return KvmResult::error(Errno::Einval);
    if (first_page & 63) return KvmResult::error(Errno::Einval);
    kvm_memory_slot* slot = memslots_[as_id]->id_to_memslot(static_cast<std::uint16_t>(id));
    if (!slot || slot->dirty_bitmap.empty()) return KvmResult::error(Errno::Enoent);
    if (first_page > slot->npages || num_pages > slot->npages - first_page ||
        (num_pages < slot->npages - first_page && (num_pages & 63)))
        return KvmResult::error(Errno::Einval);
    // The range is checked before any bitmap work; then the user's words are applied one word
    // at a time (atomic_long_fetch_andnot), only the n words the range covers. Bits of the last
    // word past num_pages lie past the slot's end (the check above), where nothing is ever set.
    const std::uint64_t n = (static_cast<std::uint64_t>(num_pages) + 63) / 64;
    slot->dirty_bitmap.andnot(first_page / 64, bitmap, n);
    return KvmResult::ok();
}

}  // namespace kvmsim
