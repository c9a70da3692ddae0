#include "page_table_builder.h"

#include "../trace.h"

namespace kvmsim {
namespace {

unsigned leaf_level(PagingMode m, std::uint64_t page_size) {
    for (unsigned level = 1; level <= paging_mode_info(m).root_level; ++level)
        if (level_page_size(m, level) == page_size) return level;
    return 0;
}

}  // namespace

PtBuildResult build_page_tables(const PtBuildSpec& spec, const PtMemory& mem, std::uint64_t pool_used) {
    PtBuildResult r;
    r.pool_used = pool_used;
    const PagingModeInfo& info = paging_mode_info(spec.mode);
    if (spec.mode == PagingMode::None) return {.error = "paging mode \"none\" has no page tables", .writes = {}, .pool_used = pool_used};
    auto fail = [&](std::string why) {
        r.error = std::move(why);
        return r;
    };
    if (!page_aligned(spec.pool.value()) || !page_aligned(spec.pool_size)) return fail("pool must be page-aligned and a whole number of pages");
    if (spec.mode == PagingMode::Pae ? spec.root.value() % 32 != 0 : !page_aligned(spec.root.value()))
        return fail(spec.mode == PagingMode::Pae ? "a PAE root (PDPT) must be 32-byte aligned" : "the root table must be page-aligned");
    const std::uint64_t addr_mask = info.pte_size == 4 ? 0xfffff000u : ((std::uint64_t{1} << 52) - 1) & PAGE_MASK;
    auto alloc_table = [&]() -> std::optional<Gpa> {
        if (r.pool_used + PAGE_SIZE > spec.pool_size) return std::nullopt;
        const Gpa t = spec.pool + r.pool_used;
        r.pool_used += PAGE_SIZE;
        for (std::uint64_t off = 0; off < PAGE_SIZE; off += 8)
            if (!mem.write(t + off, 0, 8)) return std::nullopt;
        return t;
    };
    // Bounded work per step: at most 2^18 pages (1G of 4K pages) in all.
    std::uint64_t total_pages = 0;
    for (const PtMapping& m : spec.maps)
        if (m.page_size) total_pages += m.size / m.page_size;
    if (total_pages > (1u << 18)) return fail("more than 262144 pages in one step");
    for (std::size_t mi = 0; mi < spec.maps.size(); ++mi) {
        const PtMapping& m = spec.maps[mi];
        const std::string which = "mapping " + std::to_string(mi) + ": ";
        const unsigned leaf = leaf_level(spec.mode, m.page_size);
        if (leaf == 0 || (leaf == 2 && spec.mode == PagingMode::Bits32 && m.page_size != (4u << 20)) ||
            (leaf >= 3 && spec.mode == PagingMode::Pae) || leaf > 3)
            return fail(which + "page size " + hex(m.page_size) + " does not exist in " + std::string(info.name) + " paging");
        if (m.size == 0 || m.size % m.page_size || m.gva.value() % m.page_size || m.gpa.value() % m.page_size)
            return fail(which + "gva, gpa and size must be multiples of the page size " + hex(m.page_size));
        if (info.pte_size == 4 && (m.gva.value() + m.size > (std::uint64_t{1} << 32) || m.gpa.value() + m.size > (std::uint64_t{1} << 32)))
            return fail(which + "32-bit paging maps 32-bit addresses only");
        if (!is_canonical(spec.mode, m.gva) || !is_canonical(spec.mode, m.gva + (m.size - 1)))
            return fail(which + "gva range is not canonical");
        for (std::uint64_t off = 0; off < m.size; off += m.page_size) {
            const Gva gva = m.gva + off;
            Gpa table = spec.root;
            for (unsigned level = info.root_level;; --level) {
                const Gpa entry = table + std::uint64_t{pt_index(spec.mode, gva, level)} * info.pte_size;
                if (level == leaf) {
                    std::uint64_t v = (m.gpa.value() + off) | m.leaf_bits | (m.present ? x86::PTE_P : 0);
                    if (level > 1) v |= x86::PTE_PS;
                    if (spec.mode == PagingMode::Bits32 && level == 2)  // PSE-36: address bits 32..35 in 13..16
                        v = (v & 0xffffffffu) | (((m.gpa.value() + off) >> 32) & 0xf) << 13;
                    if (!mem.write(entry, v, info.pte_size)) return fail(which + "cannot write the entry at gpa " + hex(entry.value()) + " (no memslot there?)");
                    r.writes.push_back({entry, v, level});
                    break;
                }
                std::uint64_t v = 0;
                if (!mem.read(entry, v, info.pte_size)) return fail(which + "cannot read the table entry at gpa " + hex(entry.value()) + " (no memslot there?)");
                if (v & x86::PTE_P) {
                    if (level < info.root_level && (v & x86::PTE_PS) && !(spec.mode == PagingMode::Pae && level == 3))
                        return fail(which + "gva " + hex(gva.value()) + " is already mapped by a larger page");
                } else {
                    const auto t = alloc_table();
                    if (!t) return fail(which + "the table pool is full (or cannot be written)");
                    // PAE PDPTEs have no W/U bits (they are reserved there).
                    v = t->value() | x86::PTE_P | (spec.mode == PagingMode::Pae && level == 3 ? 0 : spec.table_bits);
                    if (!mem.write(entry, v, info.pte_size)) return fail(which + "cannot write the entry at gpa " + hex(entry.value()));
                    r.writes.push_back({entry, v, level});
                }
                table = Gpa(v & addr_mask);
            }
        }
    }
    return r;
}

}  // namespace kvmsim
