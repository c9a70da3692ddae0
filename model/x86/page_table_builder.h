// Builds a guest's page tables from a declarative list of mappings, the way a VMM or firmware
// fills them before the guest runs (a scenario convenience, not kernel code). Tables are
// written through caller-supplied memory accessors, so the model sees ordinary guest memory.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../types.h"
#include "paging.h"

namespace kvmsim {

struct PtMapping {
    Gva gva;
    Gpa gpa;
    std::uint64_t size = PAGE_SIZE;       // a multiple of page_size
    std::uint64_t page_size = PAGE_SIZE;  // 4K; 2M (PAE, long mode), 4M (32-bit with PSE), 1G (long mode)
    std::uint64_t leaf_bits = 0;          // x86::PTE_* bits besides P and PS, and any raw extra bits
    bool present = true;
};

struct PtBuildSpec {
    PagingMode mode = PagingMode::Level4;
    Gpa root;                   // the top table (CR3's address; PAE: the 32-byte PDPT)
    Gpa pool;                   // where new tables are allocated, a page at a time
    std::uint64_t pool_size = 0;
    std::uint64_t table_bits = x86::PTE_W | x86::PTE_U;  // bits of every non-leaf entry created
    std::vector<PtMapping> maps;
};

// One entry written, for the trace.
struct PtWrite {
    Gpa gpa;
    std::uint64_t value = 0;
    unsigned level = 0;
};

struct PtMemory {
    std::function<bool(Gpa, std::uint64_t&, unsigned)> read;        // read `size` bytes (4 or 8)
    std::function<bool(Gpa, std::uint64_t, unsigned)> write;        // write `size` bytes
};

struct PtBuildResult {
    std::optional<std::string> error;  // what made the spec unbuildable, in words
    std::vector<PtWrite> writes;
    std::uint64_t pool_used = 0;  // bytes of the pool now holding tables (pass back in to append)
};

// Maps every page of every mapping; non-leaf entries already present are followed, not rebuilt.
PtBuildResult build_page_tables(const PtBuildSpec& spec, const PtMemory& mem, std::uint64_t pool_used = 0);

}  // namespace kvmsim
