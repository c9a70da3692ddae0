#include "stage2.h"

namespace kvmsim {

const Stage2Pte* Stage2::lookup(Gfn gfn) const {
    auto it = ptes_.find(gfn.value());
    return it == ptes_.end() ? nullptr : &it->second;
}

namespace {
constexpr std::uint64_t kBlockPages = 512;  // a level-2 entry with 4K pages
std::uint64_t block_start(std::uint64_t gfn) { return gfn & ~(kBlockPages - 1); }
}  // namespace

void Stage2::map(Gfn gfn, const Stage2Pte& pte) {
    const auto it = ptes_.find(gfn.value());
    if (it != ptes_.end() && it->second.level < 3) {
        const std::uint64_t lo = block_start(gfn.value());
        ptes_.erase(ptes_.lower_bound(lo), ptes_.lower_bound(lo + kBlockPages));
    }
    ptes_[gfn.value()] = pte;
}

void Stage2::map_block(Gfn first, std::uint64_t pages, const Stage2Pte& head) {
    ptes_.erase(ptes_.lower_bound(first.value()), ptes_.lower_bound(first.value() + pages));
    for (std::uint64_t i = 0; i < pages; ++i) {
        Stage2Pte p = head;
        p.hva = head.hva + i * PAGE_SIZE;
        p.pfn = Pfn(head.pfn.value() + i);
        ptes_[first.value() + i] = p;
    }
}

void Stage2::relax(Gfn gfn, Stage2Prot add) {
    auto it = ptes_.find(gfn.value());
    if (it == ptes_.end()) return;
    const bool block = it->second.level < 3;
    const std::uint64_t lo = block ? block_start(gfn.value()) : gfn.value();
    const std::uint64_t hi = block ? lo + kBlockPages : gfn.value() + 1;
    for (auto b = ptes_.lower_bound(lo); b != ptes_.end() && b->first < hi; ++b) {
        b->second.prot.r |= add.r;
        b->second.prot.w |= add.w;
        b->second.prot.x |= add.x;
    }
}

std::uint64_t Stage2::unmap(Gfn start, Gfn end) {
    std::uint64_t lo = start.value(), hi = end.value();
    if (const auto it = ptes_.find(lo); it != ptes_.end() && it->second.level < 3) lo = block_start(lo);
    if (hi > lo)
        if (const auto it = ptes_.find(hi - 1); it != ptes_.end() && it->second.level < 3) hi = block_start(hi - 1) + kBlockPages;
    auto first = ptes_.lower_bound(lo);
    auto last = ptes_.lower_bound(hi);
    std::uint64_t n = 0;
    for (auto it = first; it != last; ++it) ++n;
    ptes_.erase(first, last);
    return n;
}

void Stage2::wrprotect(Gfn start, Gfn end) {
    for (auto it = ptes_.lower_bound(start.value()); it != ptes_.end() && it->first < end.value(); ++it) it->second.prot.w = false;
}

// models kvm_pgtable_walk() to its first invalid entry, arch/arm64/kvm/hyp/pgtable.c
unsigned Stage2::translation_fault_level(Gfn gfn, unsigned start_level) const {
    for (unsigned level = start_level; level < 3; ++level) {
        const unsigned shift = 9 * (3 - level);  // gfns one entry of this level covers: 2^shift
        const std::uint64_t lo = (gfn.value() >> shift) << shift;
        const auto it = ptes_.lower_bound(lo);
        if (it == ptes_.end() || it->first >= lo + (std::uint64_t{1} << shift)) return level;
    }
    return 3;
}

}  // namespace kvmsim
