// One guest memory slot (struct kvm_memory_slot, include/linux/kvm_host.h).
#pragma once

#include <cstdint>

#include "../types.h"
#include "dirty_bitmap.h"

namespace kvmsim {

// kvm_userspace_memory_region::flags (include/uapi/linux/kvm.h); bits 16-31 are kernel-internal.
namespace memflag {
inline constexpr std::uint32_t LogDirtyPages = 1u << 0;  // KVM_MEM_LOG_DIRTY_PAGES
inline constexpr std::uint32_t Readonly = 1u << 1;       // KVM_MEM_READONLY
inline constexpr std::uint32_t GuestMemfd = 1u << 2;     // KVM_MEM_GUEST_MEMFD
inline constexpr std::uint32_t Invalid = 1u << 16;       // KVM_MEMSLOT_INVALID
// KVM_MEMSLOT_INVALID before the flag check moved it to bit 16: bit 1, which userspace could set.
inline constexpr std::uint32_t InvalidBeforeFlagsCheck = 1u << 1;
}  // namespace memflag

struct kvm_memory_slot {
    Gfn base_gfn;
    std::uint64_t npages = 0;
    std::uint32_t flags = 0;
    Hva userspace_addr;
    std::uint16_t id = 0;
    std::uint16_t as_id = 0;
    // One bit per page when dirty logging with a bitmap; empty otherwise (slot->dirty_bitmap == NULL).
    DirtyBitmap dirty_bitmap;

    [[nodiscard]] Gfn end_gfn() const { return Gfn(base_gfn.value() + npages); }
    [[nodiscard]] bool contains(Gfn gfn) const { return gfn >= base_gfn && gfn < end_gfn(); }
    [[nodiscard]] Hva hva_end() const { return userspace_addr + npages * PAGE_SIZE; }
};

// models memslot_is_readonly(), include/linux/kvm_host.h
[[nodiscard]] inline bool memslot_is_readonly(const kvm_memory_slot& slot) { return slot.flags & memflag::Readonly; }

// models kvm_slot_dirty_track_enabled(), include/linux/kvm_host.h
[[nodiscard]] inline bool kvm_slot_dirty_track_enabled(const kvm_memory_slot& slot) {
    return slot.flags & memflag::LogDirtyPages;
}

}  // namespace kvmsim
