#include "gfn_index.h"

#include <algorithm>
#include <iterator>

namespace kvmsim {

namespace {

// Shifts [at, n) of a block's arrays by one to make room at `at`, or closes the gap at `at`.
template <typename T>
void open_gap(T* a, std::size_t n, std::size_t at) { std::move_backward(a + at, a + n, a + n + 1); }
template <typename T>
void close_gap(T* a, std::size_t n, std::size_t at) { std::move(a + at + 1, a + n, a + at); }

}  // namespace

kvm_memory_slot* GfnIndex::floor(std::uint64_t gfn) const {
    const std::size_t b = floor_in(top_.data(), top_.size(), gfn);
    if (b == kNone) return nullptr;
    const Block& blk = *blocks_[b];
    return blk.entry[blk.floor(gfn)].slot;
}

kvm_memory_slot* GfnIndex::prev(const kvm_memory_slot& slot) const {
    const std::uint64_t base = slot.base_gfn.value();
    const std::size_t b = floor_in(top_.data(), top_.size(), base);
    if (b == kNone) return nullptr;
    const Block& blk = *blocks_[b];
    const std::size_t i = blk.floor(base);
    if (i > 0) return blk.entry[i - 1].slot;
    if (b == 0) return nullptr;
    const Block& before = *blocks_[b - 1];
    return before.entry[before.n - 1].slot;
}

// Splits a full block in two halves; or, when the new base goes past its last one (slots created
// in ascending gfn order, the common case), starts an empty block after it so blocks stay full.
void GfnIndex::split(std::size_t b, std::uint64_t new_base) {
    Block& full = *blocks_[b];
    auto upper = std::make_unique<Block>();
    const bool append = new_base > full.base[full.n - 1];
    const std::size_t keep = append ? full.n : full.n / 2;
    upper->n = full.n - keep;
    std::copy(full.base + keep, full.base + full.n, upper->base);
    std::copy(full.entry + keep, full.entry + full.n, upper->entry);
    full.n = keep;
    upper->reheads(0);
    top_.insert(top_.begin() + static_cast<std::ptrdiff_t>(b + 1), append ? new_base : upper->base[0]);
    blocks_.insert(blocks_.begin() + static_cast<std::ptrdiff_t>(b + 1), std::move(upper));
}

bool GfnIndex::insert(kvm_memory_slot* slot) {
    const std::uint64_t base = slot->base_gfn.value();
    if (blocks_.empty()) {
        blocks_.push_back(std::make_unique<Block>());
        top_.push_back(base);
    }
    std::size_t b = floor_in(top_.data(), top_.size(), base);
    if (b == kNone) b = 0;  // below every slot: the first block's new head
    if (blocks_[b]->n == kBlock) {
        split(b, base);
        if (base >= top_[b + 1]) ++b;
    }
    Block& blk = *blocks_[b];
    const std::size_t i = static_cast<std::size_t>(std::lower_bound(blk.base, blk.base + blk.n, base) - blk.base);
    if (i < blk.n && blk.base[i] == base) return false;
    open_gap(blk.base, blk.n, i);
    open_gap(blk.entry, blk.n, i);
    blk.base[i] = base;
    blk.entry[i] = {slot->end_gfn().value(), slot};
    ++blk.n;
    blk.reheads(i);
    top_[b] = blk.base[0];
    ++size_;
    return true;
}

// Keeps the number of blocks proportional to the slots: a block joins a neighbour when both fit in one.
void GfnIndex::merge_around(std::size_t b) {
    auto try_merge = [&](std::size_t left) {
        Block& l = *blocks_[left];
        Block& r = *blocks_[left + 1];
        if (l.n + r.n > kBlock / 2) return false;
        std::copy(r.base, r.base + r.n, l.base + l.n);
        std::copy(r.entry, r.entry + r.n, l.entry + l.n);
        const std::size_t from = l.n;
        l.n += r.n;
        l.reheads(from);
        top_.erase(top_.begin() + static_cast<std::ptrdiff_t>(left + 1));
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(left + 1));
        return true;
    };
    if (b + 1 < blocks_.size() && try_merge(b)) return;
    if (b > 0) (void)try_merge(b - 1);
}

bool GfnIndex::erase(std::uint64_t base, const kvm_memory_slot* slot) {
    const std::size_t b = floor_in(top_.data(), top_.size(), base);
    if (b == kNone) return false;
    Block& blk = *blocks_[b];
    const std::size_t i = blk.floor(base);
    if (blk.base[i] != base || blk.entry[i].slot != slot) return false;
    close_gap(blk.base, blk.n, i);
    close_gap(blk.entry, blk.n, i);
    --blk.n;
    blk.reheads(i);
    --size_;
    if (blk.n == 0) {
        top_.erase(top_.begin() + static_cast<std::ptrdiff_t>(b));
        blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(b));
        return true;
    }
    top_[b] = blk.base[0];
    merge_around(b);
    return true;
}

std::optional<std::string> GfnIndex::check() const {
    if (top_.size() != blocks_.size()) return "gfn index: top array and blocks differ in size";
    std::size_t count = 0;
    const kvm_memory_slot* last = nullptr;
    for (std::size_t b = 0; b < blocks_.size(); ++b) {
        const Block& blk = *blocks_[b];
        if (blk.n == 0 || blk.n > kBlock) return "gfn index: block " + std::to_string(b) + " holds " + std::to_string(blk.n) + " slots";
        if (top_[b] != blk.base[0]) return "gfn index: block " + std::to_string(b) + "'s first base is not in the top array";
        for (std::size_t k = 0; k * kLine < blk.n; ++k)
            if (blk.heads[k] != blk.base[k * kLine]) return "gfn index: block " + std::to_string(b) + "'s line heads are stale";
        for (std::size_t i = 0; i < blk.n; ++i) {
            const kvm_memory_slot* s = blk.entry[i].slot;
            if (blk.base[i] != s->base_gfn.value() || blk.entry[i].end != s->end_gfn().value())
                return "gfn index: slot " + std::to_string(s->id) + "'s base or end differs from the slot's";
            if (last && last->base_gfn >= s->base_gfn) return "gfn index: slots out of base_gfn order";
            last = s;
            ++count;
        }
    }
    if (count != size_) return "gfn index: size differs from the slots held";
    return std::nullopt;
}

}  // namespace kvmsim
