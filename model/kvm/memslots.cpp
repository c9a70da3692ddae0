#include "memslots.h"

#include <stdexcept>

namespace kvmsim {

kvm_memory_slot* kvm_memslots::id_to_memslot(std::uint16_t id) const {
    auto it = by_id_.find(id);
    return it == by_id_.end() ? nullptr : it->second.get();
}

kvm_memory_slot* kvm_memslots::find_overlap(Gfn start, Gfn end, std::optional<std::uint16_t> skip_id) const {
    // Slots are disjoint in gfn, so walking down from the last base below `end` can stop at the
    // first slot that ends at or before `start`; the only slot it may step over is skip_id's.
    if (end.value() == 0) return nullptr;
    for (kvm_memory_slot* slot = gfn_index_.floor(end.value() - 1); slot; slot = gfn_index_.prev(*slot)) {
        if (slot->end_gfn() <= start) return nullptr;
        if (skip_id && slot->id == *skip_id) continue;
        return slot;
    }
    return nullptr;
}

kvm_memory_slot& kvm_memslots::insert(std::unique_ptr<kvm_memory_slot> slot) {
    kvm_memory_slot* raw = slot.get();
    if (!by_id_.emplace(raw->id, std::move(slot)).second) throw std::logic_error("memslot id inserted twice");
    if (!gfn_index_.insert(raw)) throw std::logic_error("memslot base_gfn inserted twice");
    hva_tree_.insert(raw);
    return *raw;
}

std::unique_ptr<kvm_memory_slot> kvm_memslots::erase(std::uint16_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return nullptr;
    std::unique_ptr<kvm_memory_slot> slot = std::move(it->second);
    if (last_used_slot == slot.get()) last_used_slot = nullptr;
    by_id_.erase(it);
    if (!gfn_index_.erase(slot->base_gfn.value(), slot.get())) throw std::logic_error("memslot missing from the gfn index");
    hva_tree_.erase(slot.get());
    return slot;
}

void kvm_memslots::move(kvm_memory_slot& slot, Gfn new_base) {
    if (!gfn_index_.erase(slot.base_gfn.value(), &slot)) throw std::logic_error("memslot missing from the gfn index");
    slot.base_gfn = new_base;
    if (!gfn_index_.insert(&slot)) throw std::logic_error("memslot moved onto another");
}

}  // namespace kvmsim
