#include "stage2.h"

namespace kvmsim {

const Stage2Pte* Stage2::lookup(Gfn gfn) const {
    auto it = ptes_.find(gfn.value());
    return it == ptes_.end() ? nullptr : &it->second;
}

void Stage2::relax(Gfn gfn, Stage2Prot add) {
    auto it = ptes_.find(gfn.value());
    if (it == ptes_.end()) return;
    it->second.prot.r |= add.r;
    it->second.prot.w |= add.w;
    it->second.prot.x |= add.x;
}

std::uint64_t Stage2::unmap(Gfn start, Gfn end) {
    auto first = ptes_.lower_bound(start.value());
    auto last = ptes_.lower_bound(end.value());
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
