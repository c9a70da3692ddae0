#include "dirty_bitmap.h"

#include <algorithm>
#include <bit>
#include <iterator>

namespace kvmsim {

DirtyBitmap DirtyBitmap::from_words(const std::vector<std::uint64_t>& words) {
    DirtyBitmap b(words.size() * 64);
    for (std::uint64_t w = 0; w < words.size(); ++w)
        if (words[w]) {
            b.runs_[w] = {w + 1, words[w]};
            b.coalesce(w);
        }
    return b;
}

void DirtyBitmap::set_all() {
    runs_.clear();
    const std::uint64_t full = npages_ / 64;
    if (full) runs_[0] = {full, ~std::uint64_t{0}};
    if (npages_ % 64) runs_[full] = {full + 1, (std::uint64_t{1} << (npages_ % 64)) - 1};
}

void DirtyBitmap::split(std::uint64_t w) {
    auto it = runs_.upper_bound(w);
    if (it == runs_.begin()) return;
    --it;
    if (it->first == w || it->second.end <= w) return;
    runs_[w] = {it->second.end, it->second.value};
    it->second.end = w;
}

void DirtyBitmap::coalesce(std::uint64_t w) {
    auto it = runs_.find(w);
    if (it == runs_.end() || it == runs_.begin()) return;
    auto prev = std::prev(it);
    if (prev->second.end == w && prev->second.value == it->second.value) {
        prev->second.end = it->second.end;
        runs_.erase(it);
    }
}

void DirtyBitmap::set(std::uint64_t page) {
    if (page >= npages_) return;
    const std::uint64_t w = page / 64;
    const std::uint64_t bit = std::uint64_t{1} << (page % 64);
    if (word(w) & bit) return;
    split(w);
    split(w + 1);
    auto it = runs_.find(w);
    if (it == runs_.end()) runs_[w] = {w + 1, bit};
    else it->second.value |= bit;
    coalesce(w + 1);
    coalesce(w);
}

std::uint64_t DirtyBitmap::word(std::uint64_t w) const {
    auto it = runs_.upper_bound(w);
    if (it == runs_.begin()) return 0;
    --it;
    return w < it->second.end ? it->second.value : 0;
}

void DirtyBitmap::andnot(std::uint64_t first_word, const DirtyBitmap& mask, std::uint64_t n) {
    const std::uint64_t limit = nr_words();
    for (const auto& [mfirst, mrun] : mask.runs_) {
        if (mfirst >= n || first_word + mfirst >= limit) break;
        const std::uint64_t a = first_word + mfirst;
        const std::uint64_t b = std::min({first_word + std::min(mrun.end, n), limit});
        split(a);
        split(b);
        for (auto it = runs_.lower_bound(a); it != runs_.end() && it->first < b;) {
            it->second.value &= ~mrun.value;
            if (!it->second.value) {
                it = runs_.erase(it);
                continue;
            }
            const std::uint64_t key = it->first;
            ++it;
            coalesce(key);
        }
        coalesce(b);
    }
}

std::uint64_t DirtyBitmap::count() const {
    std::uint64_t n = 0;
    for (const auto& [first, run] : runs_) n += (run.end - first) * static_cast<std::uint64_t>(std::popcount(run.value));
    return n;
}

bool DirtyBitmap::well_formed() const {
    if (!allocated_) return runs_.empty();
    std::uint64_t prev_end = 0;
    for (const auto& [first, run] : runs_) {
        if (first < prev_end || run.end <= first || run.end > nr_words() || run.value == 0) return false;
        prev_end = run.end;
    }
    return true;
}

bool DirtyBitmap::operator==(const DirtyBitmap& o) const {
    if (allocated_ != o.allocated_ || npages_ != o.npages_ || runs_.size() != o.runs_.size()) return false;
    auto a = runs_.begin();
    for (auto b = o.runs_.begin(); b != o.runs_.end(); ++a, ++b)
        if (a->first != b->first || a->second.end != b->second.end || a->second.value != b->second.value) return false;
    return true;
}

}  // namespace kvmsim
