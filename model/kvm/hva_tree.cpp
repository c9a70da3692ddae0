#include "hva_tree.h"

#include <algorithm>
#include <utility>
#include <vector>

namespace kvmsim {

struct HvaTree::Node {
    kvm_memory_slot* slot;
    std::uint64_t start;
    std::uint64_t end;
    std::uint64_t max_end;
    std::uint64_t priority;
    std::unique_ptr<Node> left;
    std::unique_ptr<Node> right;
};

HvaTree::HvaTree() = default;
HvaTree::HvaTree(HvaTree&&) noexcept = default;
HvaTree& HvaTree::operator=(HvaTree&&) noexcept = default;

HvaTree::~HvaTree() {
    // Tear down iteratively so a degenerate tree cannot overflow the stack.
    std::vector<std::unique_ptr<Node>> stack;
    if (root_) stack.push_back(std::move(root_));
    while (!stack.empty()) {
        auto n = std::move(stack.back());
        stack.pop_back();
        if (n->left) stack.push_back(std::move(n->left));
        if (n->right) stack.push_back(std::move(n->right));
    }
}

void HvaTree::update(Node* n) {
    n->max_end = n->end;
    if (n->left) n->max_end = std::max(n->max_end, n->left->max_end);
    if (n->right) n->max_end = std::max(n->max_end, n->right->max_end);
}

namespace {
bool key_less(std::uint64_t s1, std::uint16_t id1, std::uint64_t s2, std::uint16_t id2) {
    return s1 != s2 ? s1 < s2 : id1 < id2;
}
}  // namespace

// Splits n into keys < (start, id) and keys >= (start, id).
void HvaTree::split(std::unique_ptr<Node> n, std::uint64_t start, std::uint16_t id, std::unique_ptr<Node>& left,
                    std::unique_ptr<Node>& right) {
    if (!n) {
        left.reset();
        right.reset();
        return;
    }
    if (key_less(n->start, n->slot->id, start, id)) {
        std::unique_ptr<Node> l, r;
        split(std::move(n->right), start, id, l, r);
        n->right = std::move(l);
        update(n.get());
        left = std::move(n);
        right = std::move(r);
    } else {
        std::unique_ptr<Node> l, r;
        split(std::move(n->left), start, id, l, r);
        n->left = std::move(r);
        update(n.get());
        right = std::move(n);
        left = std::move(l);
    }
}

std::unique_ptr<HvaTree::Node> HvaTree::merge(std::unique_ptr<Node> a, std::unique_ptr<Node> b) {
    if (!a) return b;
    if (!b) return a;
    if (a->priority > b->priority) {
        a->right = merge(std::move(a->right), std::move(b));
        update(a.get());
        return a;
    }
    b->left = merge(std::move(a), std::move(b->left));
    update(b.get());
    return b;
}

void HvaTree::insert(kvm_memory_slot* slot) {
    seed_ ^= seed_ << 13;
    seed_ ^= seed_ >> 7;
    seed_ ^= seed_ << 17;
    auto node = std::make_unique<Node>(Node{slot, slot->userspace_addr.value(), slot->hva_end().value(), 0, seed_, {}, {}});
    update(node.get());
    std::unique_ptr<Node> l, r;
    split(std::move(root_), node->start, slot->id, l, r);
    root_ = merge(merge(std::move(l), std::move(node)), std::move(r));
}

void HvaTree::erase(const kvm_memory_slot* slot) {
    const std::uint64_t start = slot->userspace_addr.value();
    std::unique_ptr<Node> l, mid, r;
    split(std::move(root_), start, slot->id, l, mid);
    // mid starts at (start, id); peel off exactly that key.
    std::unique_ptr<Node> match;
    if (slot->id == 0xffff) {
        split(std::move(mid), start + 1, 0, match, r);
    } else {
        split(std::move(mid), start, static_cast<std::uint16_t>(slot->id + 1), match, r);
    }
    root_ = merge(std::move(l), std::move(r));
}

void HvaTree::visit(const Node* n, std::uint64_t start, std::uint64_t end,
                    const std::function<void(kvm_memory_slot&)>& fn) {
    if (!n || n->max_end <= start) return;
    visit(n->left.get(), start, end, fn);
    if (n->start < end && start < n->end) fn(*n->slot);
    if (n->start < end) visit(n->right.get(), start, end, fn);
}

void HvaTree::for_each_overlapping(Hva start, Hva end, const std::function<void(kvm_memory_slot&)>& fn) const {
    visit(root_.get(), start.value(), end.value(), fn);
}

}  // namespace kvmsim
