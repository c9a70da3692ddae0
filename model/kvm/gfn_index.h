// The gfn-ordered view of one address space's memslots: the kernel's slots->gfn_tree (an
// rbtree keyed by base_gfn since 5.17, include/linux/kvm_host.h). The model keeps it as a
// two-level sorted array: blocks of at most kBlock slots, each block's bases in one array and
// their (end, slot) pairs in another, and one array of every block's first base above them. A lookup
// is two branchless binary searches over contiguous bases (no pointer chasing, no slot touched
// unless it holds the gfn); an insert or erase shifts at most one block and the top array, so
// 32764 creates in any order stay far below a second (a flat array costs n/2 moves each).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "memslot.h"

namespace kvmsim {

class GfnIndex {
public:
    static constexpr std::size_t kBlock = 128;

    // The slot whose [base_gfn, base_gfn + npages) holds gfn, or null.
    [[nodiscard]] kvm_memory_slot* find(std::uint64_t gfn) const {
        const std::size_t b = floor_in(top_.data(), top_.size(), gfn);
        if (b == kNone) return nullptr;
        const Block& blk = *blocks_[b];
        const Entry& e = blk.entry[blk.floor(gfn)];  // never kNone: blk.base[0] == top_[b] <= gfn
        return gfn < e.end ? e.slot : nullptr;
    }
    // The slot with the highest base_gfn at or below gfn, or null.
    [[nodiscard]] kvm_memory_slot* floor(std::uint64_t gfn) const;
    // The slot before `slot` in gfn order, or null (slot must be in the index).
    [[nodiscard]] kvm_memory_slot* prev(const kvm_memory_slot& slot) const;

    // False when a slot with the same base_gfn is present already.
    bool insert(kvm_memory_slot* slot);
    // Removes the slot whose base_gfn is `base` (it must be `slot`); false if there is none.
    bool erase(std::uint64_t base, const kvm_memory_slot* slot);

    template <typename Fn>
    void for_each(Fn&& fn) const {
        for (const auto& blk : blocks_)
            for (std::size_t i = 0; i < blk->n; ++i) fn(*blk->entry[i].slot);
    }
    // Every slot in base_gfn order (for the invariant checker).
    [[nodiscard]] std::vector<const kvm_memory_slot*> in_order() const {
        std::vector<const kvm_memory_slot*> out;
        out.reserve(size_);
        for_each([&](const kvm_memory_slot& s) { out.push_back(&s); });
        return out;
    }
    [[nodiscard]] std::size_t size() const { return size_; }
    // What is inconsistent (order, bases and ends against the slots, block bounds), or nothing.
    [[nodiscard]] std::optional<std::string> check() const;

private:
    static constexpr std::size_t kNone = ~std::size_t{0};
    // What a found base leads to: the end check and the slot share one cache line.
    struct Entry {
        std::uint64_t end;
        kvm_memory_slot* slot;
    };
    // Bases in lines of 8 (one cache line each), with the first base of every line in `heads`:
    // a search reads the two lines of heads, then one line of bases, so a lookup in a block the
    // cache does not hold costs three line fills, not the seven of a plain binary search.
    static constexpr std::size_t kLine = 8;
    struct Block {
        std::size_t n = 0;
        alignas(64) std::uint64_t heads[kBlock / kLine];  // base[kLine * k]
        alignas(64) std::uint64_t base[kBlock];
        Entry entry[kBlock];
        [[nodiscard]] std::size_t floor(std::uint64_t key) const {
            const std::size_t nlines = (n + kLine - 1) / kLine;
            const std::size_t k = floor_in(heads, nlines, key);
            if (k == kNone) return kNone;
            const std::size_t at = k * kLine;
            return at + floor_in(base + at, std::min(kLine, n - at), key);
        }
        // Heads from the line holding index `from` on, after bases moved.
        void reheads(std::size_t from) {
            for (std::size_t k = from / kLine; k * kLine < n; ++k) heads[k] = base[k * kLine];
        }
    };

    // The index of the last of a[0..n) at or below key, or kNone. Branchless: the loop does
    // log2(n) steps whatever the data, each a conditional move the compiler emits as cmov.
    static std::size_t floor_in(const std::uint64_t* a, std::size_t n, std::uint64_t key) {
        if (n == 0 || a[0] > key) return kNone;
        const std::uint64_t* p = a;
        while (n > 1) {
            const std::size_t half = n / 2;
            __builtin_prefetch(p + half / 2);
            __builtin_prefetch(p + half + half / 2);
            p = p[half] <= key ? p + half : p;
            n -= half;
        }
        return static_cast<std::size_t>(p - a);
    }
    void split(std::size_t b, std::uint64_t new_base);
    void merge_around(std::size_t b);

    std::vector<std::uint64_t> top_;              // blocks_[i]->base[0]
    std::vector<std::unique_ptr<Block>> blocks_;  // never empty blocks
    std::size_t size_ = 0;
};

}  // namespace kvmsim
