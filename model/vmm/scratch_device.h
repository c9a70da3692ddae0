// A register file on the MMIO bus: stores what is written, returns it on reads. Not a kvmtool
// device; it gives scenarios a second MMIO owner so dispatch by address can be seen.
#pragma once

#include <cstdint>
#include <vector>

#include "mmio_bus.h"

namespace kvmsim::vmm {

class ScratchDevice final : public MmioDevice {
public:
    ScratchDevice(Gpa base, std::uint64_t size) : base_(base), regs_(size) {}
    [[nodiscard]] std::string_view name() const override { return "scratch"; }
    std::string mmio(Vmm& vmm, Gpa addr, std::span<std::uint8_t> data, bool is_write) override;

    // Registers must be allocated; a bus range bigger than this is refused up front.
    static constexpr std::uint64_t kMaxSize = 1u << 20;

private:
    Gpa base_;
    std::vector<std::uint8_t> regs_;
};

}  // namespace kvmsim::vmm
