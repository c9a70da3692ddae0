#include "invariants.h"

#include <unordered_set>

#include "kvm.h"
#include "memslots.h"

namespace kvmsim {

std::optional<std::string> kvm_memslots::check_invariants() const {
    const auto where = [](const kvm_memory_slot& s) { return "slot " + std::to_string(s.as_id) + ":" + std::to_string(s.id) + ": "; };
    if (gfn_index_.size() != by_id_.size()) return "the gfn tree holds " + std::to_string(gfn_index_.size()) + " slots, the id hash " + std::to_string(by_id_.size());
    if (auto bad = gfn_index_.check()) return bad;
    const kvm_memory_slot* prev = nullptr;
    for (const kvm_memory_slot* slot : gfn_index_.in_order()) {
        if (id_to_memslot(slot->id) != slot) return where(*slot) + "in the gfn tree, not in the id hash";
        if (slot->npages == 0) return where(*slot) + "no pages";
        if (prev && prev->end_gfn() > slot->base_gfn) return where(*slot) + "overlaps " + where(*prev);
        const bool logs = kvm_slot_dirty_track_enabled(*slot);
        if (logs && !slot->dirty_bitmap.empty() && slot->dirty_bitmap.npages() != slot->npages)
            return where(*slot) + "dirty bitmap of " + std::to_string(slot->dirty_bitmap.npages()) + " pages";
        if (!logs && !slot->dirty_bitmap.empty()) return where(*slot) + "a dirty bitmap without KVM_MEM_LOG_DIRTY_PAGES";
        if (!slot->dirty_bitmap.well_formed()) return where(*slot) + "dirty bitmap runs out of order or past its end";
        prev = slot;
    }
    std::unordered_set<const kvm_memory_slot*> in_hva;
    std::optional<std::string> bad;
    hva_tree_.for_each_overlapping(Hva(0), Hva(~std::uint64_t{0}), [&](kvm_memory_slot& s) {
        if (!in_hva.insert(&s).second) bad = where(s) + "twice in the hva tree";
        else if (id_to_memslot(s.id) != &s) bad = where(s) + "in the hva tree, not in the id hash";
    });
    if (bad) return bad;
    if (in_hva.size() != by_id_.size()) return "the hva tree holds " + std::to_string(in_hva.size()) + " slots, the id hash " + std::to_string(by_id_.size());
    if (last_used_slot && id_to_memslot(last_used_slot->id) != last_used_slot) return "last_used_slot points at a slot no longer in the table";
    return std::nullopt;
}

std::optional<std::string> kvm::check_invariants(std::vector<std::uint64_t>& last_gens) const {
    last_gens.resize(memslots_.size(), 0);
    for (std::size_t as = 0; as < memslots_.size(); ++as) {
        const kvm_memslots& slots = *memslots_[as];
        if (auto bad = slots.check_invariants()) return "address space " + std::to_string(as) + ": " + *bad;
        // Generations of address space as are as mod nr_as_ids, and only ever grow.
        if (slots.generation() < last_gens[as]) return "address space " + std::to_string(as) + ": generation went back";
        if (slots.generation() % memslots_.size() != as % memslots_.size()) return "address space " + std::to_string(as) + ": generation not in its residue class";
        last_gens[as] = slots.generation();
    }
    unsigned logging = 0;
    std::uint64_t pages = 0;
    for (const auto& slots : memslots_)
        slots->for_each([&](const kvm_memory_slot& s) {
            logging += kvm_slot_dirty_track_enabled(s) ? 1 : 0;
            pages += s.npages;
        });
    if (logging != nr_memslots_dirty_logging_) return "nr_memslots_dirty_logging is " + std::to_string(nr_memslots_dirty_logging_) + ", " + std::to_string(logging) + " slots log";
    if (pages != nr_memslot_pages_) return "nr_memslot_pages is " + std::to_string(nr_memslot_pages_) + ", the slots hold " + std::to_string(pages);
    for (const auto& [id, vcpu] : vcpus_) {
        if (vcpu.as_id >= memslots_.size()) return "vCPU " + std::to_string(id) + " in address space " + std::to_string(vcpu.as_id);
        const kvm_memslots& slots = *memslots_[vcpu.as_id];
        // A cache of the current generation names a live slot; an older one is dropped on next use.
        // (Compared by address, never read: a stale pointer would be a use after free.)
        bool live = false;
        const kvm_memory_slot* cached = vcpu.last_used_slot;  // named: clang 14 cannot capture a structured binding
        if (cached) slots.for_each([&](const kvm_memory_slot& s) { live = live || &s == cached; });
        if (vcpu.last_used_slot && vcpu.last_used_slot_gen == slots.generation() && !live)
            return "vCPU " + std::to_string(id) + ": last_used_slot points at a slot not in the table of its generation";
    }
    return std::nullopt;
}

std::optional<std::string> InvariantChecker::check(const kvm& vm) { return vm.check_invariants(last_gens_); }

}  // namespace kvmsim
