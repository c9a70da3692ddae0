// The slots of one address space by host address range (kvm_memslots::hva_tree, an interval
// tree in the kernel). Ranges may overlap: two slots may alias the same host memory.
// A treap keyed by (start, id) with each subtree's largest end, so a stabbing query costs
// O(log n + matches).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "memslot.h"

namespace kvmsim {

class HvaTree {
public:
    HvaTree();
    HvaTree(const HvaTree&) = delete;
    HvaTree& operator=(const HvaTree&) = delete;
    HvaTree(HvaTree&&) noexcept;
    HvaTree& operator=(HvaTree&&) noexcept;
    ~HvaTree();

    void insert(kvm_memory_slot* slot);
    void erase(const kvm_memory_slot* slot);
    // Calls fn on every slot whose [userspace_addr, hva_end) intersects [start, end).
    void for_each_overlapping(Hva start, Hva end, const std::function<void(kvm_memory_slot&)>& fn) const;

private:
    struct Node;
    static void update(Node* n);
    static std::unique_ptr<Node> merge(std::unique_ptr<Node> a, std::unique_ptr<Node> b);
    static void split(std::unique_ptr<Node> n, std::uint64_t start, std::uint16_t id,
                      std::unique_ptr<Node>& left, std::unique_ptr<Node>& right);
    static void visit(const Node* n, std::uint64_t start, std::uint64_t end,
                      const std::function<void(kvm_memory_slot&)>& fn);

    std::unique_ptr<Node> root_;
    std::uint64_t seed_ = 0x9e3779b97f4a7c15ULL;
};

}  // namespace kvmsim
