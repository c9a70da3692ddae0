// The guest's own stage-1 translation on arm64 (EL1&0 regime, TTBR0_EL1, AArch64 descriptors):
// what the CPU's table walker does before a load, store or fetch by virtual address reaches
// stage 2. One walker for the 4K, 16K and 64K granules: the granule is data (bits resolved per
// level), the walk one loop, its state one struct, a fault a value. Every descriptor read is a
// stage-2 access flagged S1PTW, made by the caller's reader, so a stage-2 fault during the walk
// is KVM's (kvm_handle_guest_abort()) and never the walker's.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "../types.h"

namespace kvmsim {

// Descriptor bits (Arm ARM D8.3, VMSAv8-64 descriptor formats).
namespace a64 {
inline constexpr std::uint64_t DESC_VALID = 1u << 0;
inline constexpr std::uint64_t DESC_TABLE = 1u << 1;  // at levels above 3 (a page at level 3)
inline constexpr std::uint64_t DESC_ATTRINDX_SHIFT = 2;
inline constexpr std::uint64_t DESC_AP_USER = 1u << 6;  // AP[1]: EL0 has access
inline constexpr std::uint64_t DESC_AP_RO = 1u << 7;    // AP[2]: read-only
inline constexpr std::uint64_t DESC_SH_INNER = 3u << 8;
inline constexpr std::uint64_t DESC_AF = 1u << 10;
inline constexpr std::uint64_t DESC_PXN = std::uint64_t{1} << 53;
inline constexpr std::uint64_t DESC_UXN = std::uint64_t{1} << 54;
inline constexpr std::uint64_t TABLE_PXN = std::uint64_t{1} << 59;   // PXNTable
inline constexpr std::uint64_t TABLE_AP_RO = std::uint64_t{1} << 62;  // APTable[1]: no write below
inline constexpr std::uint64_t OA_MASK = 0x0000fffffffff000ull;      // output address bits 47:12

// ESR_ELx.{I,D}FSC of the faults a stage-1 walk reports (level added to the base).
inline constexpr std::uint8_t FSC_ADDRSZ = 0x00;
inline constexpr std::uint8_t FSC_TRANSLATION = 0x04;
inline constexpr std::uint8_t FSC_ACCESS = 0x08;
inline constexpr std::uint8_t FSC_PERM = 0x0c;
inline constexpr std::uint8_t FSC_EXTABT = 0x10;
}  // namespace a64

// The registers that shape the walk: TTBR0_EL1 and the parts of TCR_EL1 the walk reads.
struct Arm64Stage1Regs {
    bool mmu_on = false;           // SCTLR_EL1.M
    Gpa ttbr0;                     // TTBR0_EL1.BADDR: the first table's IPA
    unsigned granule_shift = 12;   // TCR_EL1.TG0: 12 (4K), 14 (16K), 16 (64K)
    unsigned va_bits = 48;         // 64 - TCR_EL1.T0SZ
    // TCR_EL1.HA as the guest wrote it and FEAT_HAFDBS: the walker sets a clear AF itself (a
    // write of the descriptor) instead of faulting. Without the feature HA is RES0.
    bool ha = false;
};

// The granule's geometry: the level the walk starts at and each level's VA bits.
struct Arm64Granule {
    unsigned shift = 12;          // page size = 1 << shift
    unsigned bits_per_level = 9;  // shift - 3: a table is one page of 8-byte descriptors
    unsigned start_level = 0;
    // Lowest level whose descriptor may be a block (4K: level 1; 16K/64K: level 2).
    unsigned min_block_level = 1;
    [[nodiscard]] unsigned level_shift(unsigned level) const { return shift + bits_per_level * (3 - level); }
};
// nullopt for a granule or VA size the walker does not take.
std::optional<Arm64Granule> arm64_granule(unsigned granule_shift, unsigned va_bits);

enum class Arm64AccessKind { Read, Write, Fetch };

// The architectural event a walk ends in.
enum class Stage1Fault {
    None,
    Translation,  // an invalid descriptor, or a VA outside TTBR0's range (level 0)
    AccessFlag,   // AF clear, with hardware AF updates off (TCR_EL1.HA = 0)
    Permission,   // AP[2] on a store, PXN on a fetch
    Stage2,       // a descriptor read the stage-2 side did not complete (S1PTW): the reader's outcome
};
[[nodiscard]] std::string_view to_string(Stage1Fault f);

struct Arm64WalkResult {
    Stage1Fault fault = Stage1Fault::None;
    unsigned level = 0;       // the level of the fault, or of the leaf
    Gpa ipa;                  // the output address (no fault)
    std::uint64_t leaf = 0;   // the leaf descriptor (no fault), as the walk left it
    std::optional<Gpa> leaf_at;  // where the leaf descriptor is (a leaf was reached)
    bool af_updated = false;  // the walker set the leaf's AF (TCR_EL1.HA)
    // ESR_ELx.FSC the guest sees for a stage-1 fault.
    [[nodiscard]] std::uint8_t fsc() const;
};

// Reads the 8-byte descriptor at an IPA as the walker's stage-2 access (S1PTW); nullopt when
// that access did not complete (the reader keeps its events).
using Arm64DescReader = std::function<std::optional<std::uint64_t>(Gpa)>;
// Writes a descriptor back with the AF set (hardware AF update, an atomic read-modify-write of
// the descriptor): a stage-2 write flagged S1PTW. False when that access did not complete.
using Arm64DescWriter = std::function<bool(Gpa, std::uint64_t)>;

// The hardware walk for an access at EL1 (AArch64 translation table walk, Arm ARM D8.2; Linux's
// own arm64 page-table layout in arch/arm64/include/asm/pgtable-hwdef.h). Not a kernel function:
// the CPU's, as KVM's arm64 code meets it through ESR_EL2.S1PTW.
// With regs.ha and a leaf whose AF is clear, `write` stores it with the AF set before the
// permission check (Arm ARM D8.4.1: the AF is set for an access that passes the AF check); a
// walk without a writer (the VMM translating for itself) takes the AF as set and writes nothing.
Arm64WalkResult arm64_stage1_walk(const Arm64Stage1Regs& regs, Gva va, Arm64AccessKind kind, const Arm64DescReader& read,
                                  const Arm64DescWriter& write = nullptr);

}  // namespace kvmsim
