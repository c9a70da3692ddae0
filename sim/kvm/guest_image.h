// The backend's own guest: a small region of guest memory, in a slot and gpa range the
// scenario never uses, holding a GDT, an IDT whose handlers report the vector and error
// code, one routine per access kind and size, a stack, and identity-mapping page tables
// (2 MiB pages) so a 64-bit guest at CPL 0 reaches any gpa with a plain load or store.
#pragma once

#include <cstdint>
#include <span>

#include "model/types.h"

namespace kvmsim::sim::kvmhost {

enum class GuestOp { Read, Write };

class GuestImage {
public:
    static constexpr std::uint64_t kSize = 1u << 20;

    // Writes the image into `mem` (kSize bytes, the host side of the slot at `base`).
    GuestImage(std::span<std::uint8_t> mem, Gpa base);

    // Identity-maps the 2 MiB pages covering [gpa, gpa + len); false when the table pool is
    // exhausted (more distinct GiB regions touched than the region has pages for).
    bool map_identity(Gpa gpa, std::uint64_t len);

    // The routine that performs one access: rdi = gpa, rsi = data for writes, result in rax;
    // it ends with hlt.
    [[nodiscard]] std::uint64_t routine(GuestOp op, unsigned size) const;
    // The rip after the exception handlers' hlt; rcx holds the vector and rax the error code.
    [[nodiscard]] std::uint64_t exception_halt_rip() const;

    [[nodiscard]] Gpa base() const { return base_; }
    [[nodiscard]] std::uint64_t gdt() const;
    [[nodiscard]] std::uint16_t gdt_limit() const;
    [[nodiscard]] std::uint64_t idt() const;
    [[nodiscard]] std::uint16_t idt_limit() const;
    [[nodiscard]] std::uint64_t cr3() const;
    [[nodiscard]] std::uint64_t stack_top() const;

private:
    std::uint64_t* table(std::uint64_t gpa);
    std::uint64_t next_table_or_zero();
    void write_code();

    std::span<std::uint8_t> mem_;
    Gpa base_;
    std::uint64_t next_free_page_;
};

}  // namespace kvmsim::sim::kvmhost
