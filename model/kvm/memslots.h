// The memslots of one address space (struct kvm_memslots, include/linux/kvm_host.h): by gfn,
// by host address and by id, each lookup O(log n) as in the kernel since the 5.17 rework. The
// gfn view is a two-level sorted array (gfn_index.h), not the kernel's rbtree: the same answers,
// searched without chasing pointers.
// The model keeps one set per address space: the kernel's active/inactive pair is there for
// concurrent readers, which a sequential model has none of; only its generation bumps show.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "gfn_index.h"
#include "hva_tree.h"
#include "memslot.h"

namespace kvmsim {

class kvm_memslots {
public:
    explicit kvm_memslots(std::uint16_t as_id) : generation_(as_id) {}

    // models id_to_memslot(), include/linux/kvm_host.h
    [[nodiscard]] kvm_memory_slot* id_to_memslot(std::uint16_t id) const;
    // models search_memslots(), include/linux/kvm_host.h (approx = false)
    [[nodiscard]] kvm_memory_slot* search_memslots(Gfn gfn) const { return gfn_index_.find(gfn.value()); }
    // The first slot other than skip_id intersecting [start, end)
    // (kvm_check_memslot_overlap() over kvm_for_each_memslot_in_gfn_range(), virt/kvm/kvm_main.c).
    [[nodiscard]] kvm_memory_slot* find_overlap(Gfn start, Gfn end, std::optional<std::uint16_t> skip_id) const;
    // models kvm_for_each_memslot_in_hva_range(), virt/kvm/kvm_main.c
    void for_each_in_hva_range(Hva start, Hva end, const std::function<void(kvm_memory_slot&)>& fn) const {
        hva_tree_.for_each_overlapping(start, end, fn);
    }
    template <typename Fn>
    void for_each(Fn&& fn) const {
        gfn_index_.for_each(fn);
    }

    kvm_memory_slot& insert(std::unique_ptr<kvm_memory_slot> slot);
    std::unique_ptr<kvm_memory_slot> erase(std::uint16_t id);
    void move(kvm_memory_slot& slot, Gfn new_base);

    [[nodiscard]] std::uint64_t generation() const { return generation_; }
    // models the generation step of kvm_swap_active_memslots(), virt/kvm/kvm_main.c
    void bump_generation(unsigned nr_as_ids) { generation_ += nr_as_ids; }
    [[nodiscard]] std::size_t size() const { return by_id_.size(); }
    // The table's invariants (model/kvm/invariants.h): what is wrong, or nothing.
    [[nodiscard]] std::optional<std::string> check_invariants() const;

    // slots->last_used_slot: the VM-wide one-entry lookup cache of this address space.
    mutable kvm_memory_slot* last_used_slot = nullptr;

private:
    std::unordered_map<std::uint16_t, std::unique_ptr<kvm_memory_slot>> by_id_;  // id_hash
    GfnIndex gfn_index_;                                                          // gfn_tree, by base_gfn
    HvaTree hva_tree_;
    std::uint64_t generation_;
};

}  // namespace kvmsim
