// Baselines the model's memslot table is measured against in the same run.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace kvmsim::bench {

// A plain sorted array of slot bases searched with std::upper_bound: the simplest structure a
// lookup can use, with no caches and no update cost considered.
struct SortedArray {
    std::vector<std::uint64_t> base, end;
    // The slot holding gfn, or -1.
    [[nodiscard]] long find(std::uint64_t gfn) const {
        auto it = std::upper_bound(base.begin(), base.end(), gfn);
        if (it == base.begin()) return -1;
        const auto i = static_cast<std::size_t>(it - base.begin() - 1);
        return gfn < end[i] ? static_cast<long>(i) : -1;
    }
};

// The memslot design of kernels before 5.17 (include/linux/kvm_host.h and virt/kvm/kvm_main.c
// of v5.16): one array of slots sorted by base_gfn, descending, with a one-entry lru cache;
// every change duplicates the whole array (kvm_dup_memslots()), shifts the changed slot into
// place (update_memslots()) and swaps the copy in.
struct Pre517Slot {
    std::uint64_t base_gfn = 0;
    std::uint64_t npages = 0;
    std::uint64_t dirty_bitmap = 0;
    std::uint64_t arch[7] = {};  // x86's rmap[3], lpage_info[2], gfn_track, padding
    std::uint64_t userspace_addr = 0;
    std::uint32_t flags = 0;
    std::int16_t id = 0;
    std::uint16_t as_id = 0;
};

struct Pre517Memslots {
    std::unique_ptr<Pre517Slot[]> memslots;
    int used_slots = 0;
    mutable int last_used_slot = 0;

    // models search_memslots(), include/linux/kvm_host.h of v5.16
    [[nodiscard]] const Pre517Slot* search_memslots(std::uint64_t gfn) const {
        if (!used_slots) return nullptr;
        const Pre517Slot* s = &memslots[last_used_slot];
        if (gfn >= s->base_gfn && gfn < s->base_gfn + s->npages) return s;
        int start = 0, end = used_slots;
        while (start < end) {
            const int slot = start + (end - start) / 2;
            if (gfn >= memslots[slot].base_gfn) end = slot;
            else start = slot + 1;
        }
        if (start < used_slots && gfn >= memslots[start].base_gfn && gfn < memslots[start].base_gfn + memslots[start].npages) {
            last_used_slot = start;
            return &memslots[start];
        }
        return nullptr;
    }

    // kvm_set_memslot() of v5.16 for a create: kvm_dup_memslots() with room for one more, then
    // update_memslots()'s kvm_memslot_insert_back() + kvm_memslot_move_forward().
    void create(const Pre517Slot& s) {
        auto copy = std::make_unique<Pre517Slot[]>(static_cast<std::size_t>(used_slots) + 1);
        if (used_slots > 0)  // memcpy from the empty table's null pointer is undefined, even for 0 bytes
            std::memcpy(copy.get(), memslots.get(), sizeof(Pre517Slot) * static_cast<std::size_t>(used_slots));
        int i = used_slots;
        copy[i] = s;
        while (i > 0 && copy[i - 1].base_gfn < s.base_gfn) {
            std::swap(copy[i - 1], copy[i]);
            --i;
        }
        memslots = std::move(copy);
        ++used_slots;
        last_used_slot = 0;
    }
    // The same for a delete: kvm_dup_memslots() then kvm_memslot_delete()'s shift down.
    void remove(std::int16_t id) {
        if (used_slots == 0) return;
        auto copy = std::make_unique<Pre517Slot[]>(static_cast<std::size_t>(used_slots));
        std::memcpy(copy.get(), memslots.get(), sizeof(Pre517Slot) * static_cast<std::size_t>(used_slots));
        int i = 0;
        while (i < used_slots && copy[i].id != id) ++i;
        for (; i + 1 < used_slots; ++i) copy[i] = copy[i + 1];
        memslots = std::move(copy);
        --used_slots;
        last_used_slot = 0;
    }
};

}  // namespace kvmsim::bench
