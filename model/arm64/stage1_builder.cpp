#include "stage1_builder.h"

#include "../trace.h"

namespace kvmsim {

Arm64S1BuildResult build_stage1_tables(const Arm64S1BuildSpec& spec, const Arm64S1Memory& mem, std::uint64_t pool_used) {
    Arm64S1BuildResult r;
    r.pool_used = pool_used;
    auto fail = [&](std::string why) {
        r.error = std::move(why);
        return r;
    };
    const std::optional<Arm64Granule> g = arm64_granule(spec.granule_shift, spec.va_bits);
    if (!g) return fail("granule " + std::to_string(1u << spec.granule_shift >> 10) + "K with " + std::to_string(spec.va_bits) + " VA bits is not a stage-1 layout (4K, 16K or 64K; 25 to 48 bits)");
    const std::uint64_t granule = std::uint64_t{1} << g->shift;
    if (spec.root.value() % granule || spec.pool.value() % granule || spec.pool_size % granule)
        return fail("root, pool and pool_size must be multiples of the granule " + hex(granule));
    // The top table may be smaller than a granule, but is aligned to its own size at least.
    auto alloc_table = [&]() -> std::optional<Gpa> {
        if (r.pool_used + granule > spec.pool_size) return std::nullopt;
        const Gpa t = spec.pool + r.pool_used;
        r.pool_used += granule;
        for (std::uint64_t off = 0; off < granule; off += 8)
            if (!mem.write(t + off, 0)) return std::nullopt;
        return t;
    };
    std::uint64_t total = 0;
    for (const Arm64S1Mapping& m : spec.maps)
        if (m.block) total += m.size / m.block;
    if (total > (1u << 18)) return fail("more than 262144 blocks in one step");
    for (std::size_t mi = 0; mi < spec.maps.size(); ++mi) {
        const Arm64S1Mapping& m = spec.maps[mi];
        const std::string which = "mapping " + std::to_string(mi) + ": ";
        std::optional<unsigned> leaf;
        for (unsigned level = g->start_level; level <= 3; ++level)
            if ((std::uint64_t{1} << g->level_shift(level)) == m.block && (level == 3 || level >= g->min_block_level)) leaf = level;
        if (!leaf) return fail(which + "block size " + hex(m.block) + " does not exist with the " + std::to_string(granule >> 10) + "K granule");
        if (m.size == 0 || m.size % m.block || m.gva.value() % m.block || m.gpa.value() % m.block)
            return fail(which + "gva, gpa and size must be multiples of the block size " + hex(m.block));
        if ((m.gva.value() + m.size - 1) >> spec.va_bits) return fail(which + "gva range is beyond TTBR0's " + std::to_string(spec.va_bits) + "-bit range");
        if ((m.gpa.value() + m.size - 1) & ~a64::OA_MASK & ~(granule - 1)) return fail(which + "gpa beyond 48 bits");
        for (std::uint64_t off = 0; off < m.size; off += m.block) {
            const Gva va = m.gva + off;
            Gpa table = spec.root;
            for (unsigned level = g->start_level;; ++level) {
                const unsigned shift = g->level_shift(level);
                const unsigned bits = level == g->start_level ? spec.va_bits - shift : g->bits_per_level;
                const Gpa entry = table + ((va.value() >> shift) & ((std::uint64_t{1} << bits) - 1)) * 8;
                if (level == *leaf) {
                    std::uint64_t v = (m.gpa.value() + off) | m.leaf_bits | a64::DESC_SH_INNER;
                    if (m.valid) v |= a64::DESC_VALID;
                    if (level == 3) v |= a64::DESC_TABLE;  // a page descriptor
                    if (m.af) v |= a64::DESC_AF;
                    if (!mem.write(entry, v)) return fail(which + "cannot write the descriptor at gpa " + hex(entry.value()) + " (no memslot there?)");
                    ++r.entries;
                    break;
                }
                std::uint64_t v = 0;
                if (!mem.read(entry, v)) return fail(which + "cannot read the descriptor at gpa " + hex(entry.value()) + " (no memslot there?)");
                if (v & a64::DESC_VALID) {
                    if (!(v & a64::DESC_TABLE)) return fail(which + "gva " + hex(va.value()) + " is already mapped by a larger block");
                } else {
                    const auto t = alloc_table();
                    if (!t) return fail(which + "the table pool is full (or cannot be written)");
                    v = t->value() | a64::DESC_VALID | a64::DESC_TABLE | spec.table_bits;
                    if (!mem.write(entry, v)) return fail(which + "cannot write the descriptor at gpa " + hex(entry.value()));
                    ++r.entries;
                }
                table = Gpa(v & a64::OA_MASK & ~(granule - 1));
            }
        }
    }
    return r;
}

}  // namespace kvmsim
