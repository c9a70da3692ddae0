// Builds an arm64 guest's stage-1 tables (TTBR0_EL1, AArch64 descriptors) from a declarative list
// of mappings, the way firmware or a VMM fills them before the guest runs: a scenario
// convenience, not kernel code. Entries are written through caller-supplied accessors, so the
// tables are ordinary guest memory to whoever reads them later.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../types.h"
#include "stage1.h"

namespace kvmsim {

struct Arm64S1Mapping {
    Gva gva;
    Gpa gpa;
    std::uint64_t size = 0;        // a multiple of block
    std::uint64_t block = 0;       // the granule (a page) or a block size of it (4K: 2M, 1G)
    std::uint64_t leaf_bits = 0;   // a64::DESC_AP_RO, DESC_AP_USER, DESC_PXN, DESC_UXN, raw extras
    bool af = true;                // DESC_AF
    bool valid = true;             // DESC_VALID
};

struct Arm64S1BuildSpec {
    unsigned granule_shift = 12;
    unsigned va_bits = 48;
    Gpa root;                       // TTBR0_EL1's table
    Gpa pool;                       // where further tables are taken from, a granule at a time
    std::uint64_t pool_size = 0;
    std::uint64_t table_bits = 0;   // a64::TABLE_AP_RO / TABLE_PXN on every table descriptor made
    std::vector<Arm64S1Mapping> maps;
};

struct Arm64S1Memory {
    std::function<bool(Gpa, std::uint64_t&)> read;   // one 8-byte descriptor
    std::function<bool(Gpa, std::uint64_t)> write;
};

struct Arm64S1BuildResult {
    std::optional<std::string> error;  // why the spec cannot be built, in words
    unsigned entries = 0;              // descriptors written
    std::uint64_t pool_used = 0;       // bytes of the pool now holding tables (pass back in to append)
};

// Maps every block of every mapping; table descriptors already valid are followed, not rebuilt.
Arm64S1BuildResult build_stage1_tables(const Arm64S1BuildSpec& spec, const Arm64S1Memory& mem, std::uint64_t pool_used = 0);

}  // namespace kvmsim
