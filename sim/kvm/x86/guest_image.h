// The backend's own guest: a small region of guest memory, in a slot and gpa range the
// scenario never uses, holding a GDT, an IDT whose handlers report the vector and error
// code, one routine per access kind and size, a stack, and identity-mapping page tables
// (2 MiB pages) so a 64-bit guest at CPL 0 reaches any gpa with a plain load or store.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "model/types.h"

namespace kvmsim::sim::kvmhost {

enum class GuestOp { Read, Write };

// Everything the vCPU runs one access with: control registers, descriptor tables, the
// routine's entry and stack, and where its exception handlers stop.
struct GuestContext {
    std::uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
    std::uint64_t gdt = 0, idt = 0;
    std::uint16_t gdt_limit = 0, idt_limit = 0;
    std::uint64_t rip = 0, rsp = 0;
    std::uint64_t exception_halt_rip = 0;  // the handlers' hlt; rcx = vector, rax = error code
};

// The scenario's own paging registers, for accesses by virtual address.
struct ScenarioPaging {
    std::uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
};

class GuestImage {
public:
    static constexpr std::uint64_t kSize = 1u << 20;

    // Writes the image into `mem` (kSize bytes, the host side of the slot at `base`).
    GuestImage(std::span<std::uint8_t> mem, Gpa base);

    // Identity-maps the 2 MiB pages covering [gpa, gpa + len); false when the table pool is
    // exhausted (more distinct GiB regions touched than the region has pages for).
    bool map_identity(Gpa gpa, std::uint64_t len);

    // The identity-mapped context: 64-bit mode on the image's own tables; the routine takes
    // rdi = address, rsi = data for writes, leaves a read in rax and ends with hlt.
    [[nodiscard]] GuestContext identity_context(GuestOp op, unsigned size) const;

    // For accesses through the scenario's 4-level tables: the image is also mapped at the
    // canonical gva of PML4 slot `index` (one 2 MiB page, A and D preset so the walk to it
    // writes nothing). Returns the PML4 entry to place in the scenario's root table.
    std::uint64_t make_alias(unsigned pml4_index);
    // The context that runs the routine through the alias on the scenario's registers
    // (make_alias first).
    [[nodiscard]] GuestContext alias_context(const ScenarioPaging& paging, GuestOp op, unsigned size) const;

    [[nodiscard]] Gpa base() const { return base_; }
    // The image's own PML4 (identity map).
    [[nodiscard]] std::uint64_t cr3() const;
    // Where the identity context's exception handlers stop (for tests).
    [[nodiscard]] std::uint64_t exception_halt_rip() const { return identity_context(GuestOp::Read, 1).exception_halt_rip; }

private:
    [[nodiscard]] std::uint64_t routine(GuestOp op, unsigned size) const;
    std::uint64_t* table(std::uint64_t gpa);
    std::uint64_t next_table_or_zero();
    void write_code();
    void write_idt(std::uint64_t offset, std::uint64_t linear_base);
    [[nodiscard]] GuestContext context_at(std::uint64_t linear_base, std::uint64_t idt_offset, GuestOp op, unsigned size) const;

    std::span<std::uint8_t> mem_;
    Gpa base_;
    std::uint64_t next_free_page_;
    std::optional<std::uint64_t> alias_base_;  // the alias's gva
    std::uint64_t alias_pml4e_ = 0;
};

}  // namespace kvmsim::sim::kvmhost
