#include "stage1.h"

namespace kvmsim {

std::string_view to_string(Stage1Fault f) {
    switch (f) {
    case Stage1Fault::None: return "none";
    case Stage1Fault::Translation: return "translation fault";
    case Stage1Fault::AccessFlag: return "access flag fault";
    case Stage1Fault::Permission: return "permission fault";
    case Stage1Fault::Stage2: return "stage-2 abort on the walk (S1PTW)";
    }
    return "?";
}

std::uint8_t Arm64WalkResult::fsc() const {
    const auto lvl = static_cast<std::uint8_t>(level);
    switch (fault) {
    case Stage1Fault::Translation: return a64::FSC_TRANSLATION + lvl;
    case Stage1Fault::AccessFlag: return a64::FSC_ACCESS + lvl;
    case Stage1Fault::Permission: return a64::FSC_PERM + lvl;
    default: return 0;
    }
}

std::optional<Arm64Granule> arm64_granule(unsigned granule_shift, unsigned va_bits) {
    if (granule_shift != 12 && granule_shift != 14 && granule_shift != 16) return std::nullopt;
    // TCR_EL1.T0SZ 16..39 without FEAT_LVA / FEAT_TTST.
    if (va_bits < 25 || va_bits > 48) return std::nullopt;
    Arm64Granule g;
    g.shift = granule_shift;
    g.bits_per_level = granule_shift - 3;
    const unsigned levels = (va_bits - granule_shift + g.bits_per_level - 1) / g.bits_per_level;
    if (levels < 1 || levels > 4) return std::nullopt;
    g.start_level = 4 - levels;
    // Blocks: 4K at levels 1 (1G) and 2 (2M); 16K and 64K at level 2 only (32M, 512M) without
    // 52-bit output addresses.
    g.min_block_level = granule_shift == 12 ? 1 : 2;
    return g;
}

namespace {

// The walk's state: where it is and what the tables above the current one allow.
struct Stage1Walk {
    Gpa table;             // the table being indexed
    unsigned level = 0;
    bool table_ro = false;   // APTable[1] seen on the way down
    bool table_pxn = false;  // PXNTable seen on the way down
};

}  // namespace

Arm64WalkResult arm64_stage1_walk(const Arm64Stage1Regs& regs, Gva va, Arm64AccessKind kind, const Arm64DescReader& read, const Arm64DescWriter& write) {
    Arm64WalkResult r;
    const std::optional<Arm64Granule> g = arm64_granule(regs.granule_shift, regs.va_bits);
    if (!g) {
        r.fault = Stage1Fault::Translation;
        return r;
    }
    // A VA above TTBR0's range (and not TTBR1's, which the model has no tables for): a
    // translation fault at level 0, before any descriptor is read.
    if (va.value() >> regs.va_bits) {
        r.fault = Stage1Fault::Translation;
        r.level = 0;
        return r;
    }
    const std::uint64_t granule_mask = (std::uint64_t{1} << g->shift) - 1;
    Stage1Walk w{Gpa(regs.ttbr0.value() & a64::OA_MASK & ~granule_mask), g->start_level};
    for (;; ++w.level) {
        const unsigned shift = g->level_shift(w.level);
        const unsigned index_bits = w.level == g->start_level ? regs.va_bits - shift : g->bits_per_level;
        const std::uint64_t index = (va.value() >> shift) & ((std::uint64_t{1} << index_bits) - 1);
        const Gpa at(w.table.value() + index * 8);
        r.level = w.level;
        const std::optional<std::uint64_t> desc = read(at);
        if (!desc) {
            r.fault = Stage1Fault::Stage2;
            return r;
        }
        std::uint64_t d = *desc;
        if (!(d & a64::DESC_VALID)) {
            r.fault = Stage1Fault::Translation;
            return r;
        }
        const bool table_or_page = (d & a64::DESC_TABLE) != 0;
        if (w.level < 3 && table_or_page) {
            w.table = Gpa(d & a64::OA_MASK & ~granule_mask);
            w.table_ro |= (d & a64::TABLE_AP_RO) != 0;
            w.table_pxn |= (d & a64::TABLE_PXN) != 0;
            continue;
        }
        // A block above the granule's first block level, or a level-3 entry with bit 1 clear,
        // is reserved: a translation fault.
        if ((w.level < 3 && w.level < g->min_block_level) || (w.level == 3 && !table_or_page)) {
            r.fault = Stage1Fault::Translation;
            return r;
        }
        const std::uint64_t offset_mask = (std::uint64_t{1} << shift) - 1;
        r.leaf = d;
        r.leaf_at = at;
        // Fault priority within stage 1: access flag before permission. With TCR_EL1.HA the
        // walker sets the flag instead, by writing the descriptor through stage 2 (S1PTW).
        if (!(d & a64::DESC_AF)) {
            if (!regs.ha) {
                r.fault = Stage1Fault::AccessFlag;
                return r;
            }
            d |= a64::DESC_AF;
            if (write) {
                if (!write(at, d)) {
                    r.fault = Stage1Fault::Stage2;
                    return r;
                }
                r.af_updated = true;
            }
            r.leaf = d;
        }
        const bool read_only = (d & a64::DESC_AP_RO) || w.table_ro;
        // AP[2:1] = 01 (EL0 may write): the page is never executable at EL1.
        const bool el0_writable = (d & a64::DESC_AP_USER) && !(d & a64::DESC_AP_RO);
        if ((kind == Arm64AccessKind::Write && read_only) ||
            (kind == Arm64AccessKind::Fetch && ((d & a64::DESC_PXN) || w.table_pxn || el0_writable))) {
            r.fault = Stage1Fault::Permission;
            return r;
        }
        r.ipa = Gpa((d & a64::OA_MASK & ~offset_mask) | (va.value() & offset_mask));
        return r;
    }
}

}  // namespace kvmsim
