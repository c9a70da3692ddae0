// KVM_GET_DIRTY_LOG and KVM_CLEAR_DIRTY_LOG.
#include "kvm.h"

#include <algorithm>
#include <utility>

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
        return "slot " + std::to_string(id) + ": " + std::to_string(slot->dirty_bitmap.count()) + " dirty page(s) copied out" +
               ((manual_dirty_log_protect_ & dirtylog::ManualProtectEnable) ? ", bits kept (manual protect)" : ", bits cleared");
    });
    if (manual_dirty_log_protect_ & dirtylog::ManualProtectEnable) return log;  // KVM_CLEAR_DIRTY_LOG protects
    // Without manual protection the ioctl takes the bits, word by word, and write-protects the
    // pages it reports, so the next write to one faults and is logged again.
    slot->dirty_bitmap.for_each_run([&](std::uint64_t first, std::uint64_t end, std::uint64_t value) {
        for (std::uint64_t w = first; w < end; ++w) arch_->mmu_enable_log_dirty_pt_masked(*this, *slot, w * 64, value);
    });
    slot->dirty_bitmap.clear_all();
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
    if (!slot || slot->dirty_bitmap.empty()) {
        trace_.emit("kvm_clear_dirty_log_protect", [] { return std::string("slot absent or not logging -> ENOENT"); });
        return KvmResult::error(Errno::Enoent);
    }
    trace_.emit("kvm_clear_dirty_log_protect", [&] { return "slot " + std::to_string(id) + ": clear pages [" + hex(first_page) + ", +" + std::to_string(num_pages) + ")"; });
    if (first_page > slot->npages || num_pages > slot->npages - first_page ||
        (num_pages < slot->npages - first_page && (num_pages & 63)))
        return KvmResult::error(Errno::Einval);
    // The range is checked before any bitmap work. Then, one word at a time (first_page is a
    // multiple of 64), the requested bits that were set are write-protected again and cleared
    // (atomic_long_fetch_andnot), only in the n words the range covers; bits of the last word
    // past num_pages lie past the slot's end (the check above), where nothing is ever set.
    const std::uint64_t n = (static_cast<std::uint64_t>(num_pages) + 63) / 64;
    const std::uint64_t base = first_page / 64;
    bitmap.for_each_run([&](std::uint64_t first, std::uint64_t end, std::uint64_t value) {
        for (std::uint64_t w = first; w < end && w < n; ++w)
            if (const std::uint64_t mask = value & slot->dirty_bitmap.word(base + w))
                arch_->mmu_enable_log_dirty_pt_masked(*this, *slot, first_page + w * 64, mask);
    });
    slot->dirty_bitmap.andnot(base, bitmap, n);
    return KvmResult::ok();
}

}  // namespace kvmsim
