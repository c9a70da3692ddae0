#include "paging.h"

namespace kvmsim {
namespace {

constexpr std::array<PagingModeInfo, 5> kModes = {{
    {PagingMode::None, "none", 0, 0, 0},
    {PagingMode::Bits32, "32-bit", 2, 4, 10},
    {PagingMode::Pae, "pae", 3, 8, 9},
    {PagingMode::Level4, "4-level", 4, 8, 9},
    {PagingMode::Level5, "5-level", 5, 8, 9},
}};
static_assert(kModes[static_cast<std::size_t>(PagingMode::Level5)].mode == PagingMode::Level5, "kModes is in enum order");

// models rsvd_bits(), arch/x86/kvm/mmu/spte.h: bits s..e inclusive.
constexpr std::uint64_t rsvd_bits(unsigned s, unsigned e) {
    return e < s ? 0 : ((std::uint64_t{2} << (e - s)) - 1) << s;
}

// The reserved-bit mask for an entry at `level` whose bit 7 is `ps`; mirrors the per-mode cases
// of __reset_rsvds_bits_mask(), arch/x86/kvm/mmu/mmu.c (PKU and EPT left out).
std::uint64_t rsvd_mask(const X86PagingState& s, const GuestCpuid& c, unsigned level, bool ps) {
    const PagingMode m = paging_mode(s);
    if (m == PagingMode::Bits32) {
        // Legacy 32-bit paging has no reserved bits except in a 4M PDE, whose bits 17..21 sit
        // between the PSE-36 high address bits and the 4M frame (KVM always reports PSE-36).
        if (level == 2 && ps && (s.cr4 & x86::CR4_PSE)) return rsvd_bits(17, 21);
        return 0;
    }
    const std::uint64_t exb = (s.efer & x86::EFER_NXE) ? 0 : rsvd_bits(63, 63);
    const std::uint64_t nonleaf_bit8 = c.amd ? rsvd_bits(8, 8) : 0;
    if (m == PagingMode::Pae) {
        const std::uint64_t high = rsvd_bits(c.maxphyaddr, 62);
        if (level == 2 && ps) return exb | high | rsvd_bits(13, 20);
        return exb | high;
    }
    const std::uint64_t high = rsvd_bits(c.maxphyaddr, 51);
    const std::uint64_t gbpages_bit = c.gbpages ? 0 : rsvd_bits(7, 7);
    switch (level) {
    case 5:
    case 4: return exb | nonleaf_bit8 | rsvd_bits(7, 7) | high;
    case 3: return ps ? exb | gbpages_bit | rsvd_bits(13, 29) | high : exb | nonleaf_bit8 | gbpages_bit | high;
    case 2: return ps ? exb | rsvd_bits(13, 20) | high : exb | nonleaf_bit8 | high;
    default: return exb | high;
    }
}

}  // namespace

const PagingModeInfo& paging_mode_info(PagingMode m) { return kModes[static_cast<std::size_t>(m)]; }

std::optional<PagingMode> paging_mode_from_string(std::string_view name) {
    for (const auto& i : kModes)
        if (i.name == name) return i.mode;
    return std::nullopt;
}

PagingMode paging_mode(const X86PagingState& s) {
    if (!(s.cr0 & x86::CR0_PG)) return PagingMode::None;
    if (s.efer & x86::EFER_LMA) return (s.cr4 & x86::CR4_LA57) ? PagingMode::Level5 : PagingMode::Level4;
    return (s.cr4 & x86::CR4_PAE) ? PagingMode::Pae : PagingMode::Bits32;
}

std::string_view level_name(PagingMode m, unsigned level) {
    if (m == PagingMode::Bits32) return level == 2 ? "PDE" : "PTE";
    switch (level) {
    case 5: return "PML5E";
    case 4: return "PML4E";
    case 3: return "PDPTE";
    case 2: return "PDE";
    default: return "PTE";
    }
}

unsigned pt_index(PagingMode m, Gva gva, unsigned level) {
    const PagingModeInfo& i = paging_mode_info(m);
    const unsigned shift = PAGE_SHIFT + i.index_bits * (level - 1);
    if (m == PagingMode::Pae && level == 3) return static_cast<unsigned>((gva.value() >> 30) & 3);
    return static_cast<unsigned>((gva.value() >> shift) & ((1u << i.index_bits) - 1));
}

std::uint64_t level_page_size(PagingMode m, unsigned level) {
    return std::uint64_t{1} << (PAGE_SHIFT + paging_mode_info(m).index_bits * (level - 1));
}

bool is_rsvd_bits_set(const X86PagingState& s, const GuestCpuid& cpuid, std::uint64_t pte, unsigned level) {
    return (pte & rsvd_mask(s, cpuid, level, (pte & x86::PTE_PS) != 0)) != 0;
}

bool is_last_gpte(const X86PagingState& s, std::uint64_t pte, unsigned level) {
    if (level == 1) return true;
    const PagingMode m = paging_mode(s);
    // mmu->last_nonleaf_level: the root level, one higher for 32-bit paging with CR4.PSE. At
    // or above it bit 7 is ignored here (in 64-bit entries the reserved-bit check has already
    // refused it at the PML4E / PML5E).
    unsigned last_nonleaf = paging_mode_info(m).root_level;
    if (m == PagingMode::Bits32 && (s.cr4 & x86::CR4_PSE)) ++last_nonleaf;
    return level < last_nonleaf && (pte & x86::PTE_PS);
}

Gfn gpte_to_gfn(PagingMode m, std::uint64_t pte, unsigned level, bool leaf) {
    if (m == PagingMode::Bits32) {
        if (!leaf || level == 1) return Gfn((pte & 0xfffff000u) >> PAGE_SHIFT);
        // A 4M page: bits 22..31 of the frame, and PSE-36 puts bits 13..16 at address bits 32..35.
        const std::uint64_t base = (pte & 0xffc00000u) >> PAGE_SHIFT;
        return Gfn(base + (((pte >> 13) & 0xf) << 20));
    }
    const std::uint64_t addr_mask = ((std::uint64_t{1} << 52) - 1) & PAGE_MASK;
    const std::uint64_t lvl_mask = leaf ? addr_mask & ~(level_page_size(m, level) - 1) : addr_mask;
    return Gfn((pte & lvl_mask) >> PAGE_SHIFT);
}

bool is_canonical(PagingMode m, Gva gva) {
    const unsigned bits = m == PagingMode::Level5 ? 57 : m == PagingMode::Level4 ? 48 : 64;
    if (bits == 64) return true;
    const auto v = static_cast<std::int64_t>(gva.value());
    return (v << (64 - bits) >> (64 - bits)) == v;
}

}  // namespace kvmsim
