// The backend's own arm64 guest code, at EL1 with the MMU off or on: a vector table whose handlers
// report ESR_EL1 and FAR_EL1, and one routine per access (load or store of each size, with a
// valid syndrome or without one, and an instruction fetch). Every routine and handler ends
// with stores to the "mailbox", a gpa just past the backend's slot that no slot covers: each
// store is a KVM_EXIT_MMIO the vCPU loop reads the outcome from (arm64 has no HLT exit).
#pragma once

#include <cstdint>
#include <span>

namespace kvmsim::sim::kvmhost::arm64 {

// CacheMaintenance: DC CIVAC (cache_maint.cpp); Cas, ZeroBlock (DC ZVA), At (AT S1E1R): insn_routines.cpp.
enum class AccessKind { Read, Write, Fetch, CacheMaintenance, Cas, ZeroBlock, At };

// Offsets from the mailbox gpa of the stores the guest code makes.
constexpr std::uint64_t kMailDone = 0x00;      // x1: a load's value; the access retired
constexpr std::uint64_t kMailVector = 0x20;    // the vector entry taken (0..15)
constexpr std::uint64_t kMailEsr = 0x28;       // ESR_EL1
constexpr std::uint64_t kMailFar = 0x30;       // FAR_EL1: the last store of a handler
constexpr std::uint64_t kMailSize = 0x40;

// The instruction a fetch's target holds while the fetch runs: `ret`, back to the routine.
constexpr std::uint32_t kRetInsn = 0xd65f03c0;

// With the MMU on, the scenario owns TTBR0 (its own tables, its gvas); the backend's code,
// vectors and mailbox run from the upper half through TTBR1, at this VA plus their gpa, with
// tables of the backend's own (GuestCode::build_high_tables()). T1SZ 16, 4K granule.
constexpr std::uint64_t kHighVa = 0xffff000000000000ull;
// MAIR_EL1: attribute 0 Normal write-back (the scenario's mappings and the code), 1 Device-nGnRnE
// (the mailbox).
constexpr std::uint64_t kMair = 0x00ff;

class GuestCode {
public:
    // Bytes the code takes at the start of the backend's slot.
    static constexpr std::uint64_t kSize = 0x2000;
    static constexpr std::uint64_t kVectors = 0x0;  // VBAR_EL1 (2 KiB aligned)
    // The TTBR1 tables, four 4K pages from this offset of the backend's slot.
    static constexpr std::uint64_t kHighTables = 0x80000;

    // Writes the vectors and routines into `mem` (the host side of the code's gpa).
    explicit GuestCode(std::span<std::uint8_t> mem);

    // The routine's offset from the code's start. Registers on entry: x0 = address, x1 = data
    // (low 32 bits for a pair), x2 = a pair's high 32 bits, x10 = the mailbox.
    // Without a valid syndrome (isv false) a load or store of 1, 2 or 4 bytes is post-indexed
    // (writeback) and one of 8 bytes is a pair of 32-bit registers (ldp/stp): neither sets
    // ESR_EL2.ISV.
    [[nodiscard]] static std::uint64_t routine(AccessKind kind, unsigned size, bool isv);

    // Writes the TTBR1 tables into `slot` (the backend's slot, 2 MiB aligned at `gpa`): its
    // first `slot_size` bytes Normal memory, the page after it (the mailbox) Device memory.
    // Returns TTBR1_EL1.
    static std::uint64_t build_high_tables(std::span<std::uint8_t> slot, std::uint64_t gpa, std::uint64_t slot_size);
};

// The cache maintenance routine (cache_maint.cpp): `dc civac, x0`, then the mailbox store.
inline constexpr std::uint64_t kCacheMaintRoutine = 0xc40;  // past the load/store routines
void put_cache_maint_routine(std::span<std::uint8_t> mem);

// CASAL (4 or 8 bytes), DC ZVA and AT S1E1R (insn_routines.cpp), from this offset.
inline constexpr std::uint64_t kInsnRoutines = 0xc80;
[[nodiscard]] std::uint64_t insn_routine(AccessKind kind, unsigned size);
void put_insn_routines(std::span<std::uint8_t> mem);

}  // namespace kvmsim::sim::kvmhost::arm64
