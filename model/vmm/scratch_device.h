// A register file on the MMIO bus: stores what is written, returns it on reads. Not a kvmtool
// device; it gives scenarios a second MMIO owner so dispatch by address can be seen.
#pragma once

#include <cstdint>
#include <unordered_map>

#include "mmio_bus.h"

namespace kvmsim::vmm {

class ScratchDevice final : public MmioDevice {
public:
    explicit ScratchDevice(Gpa base) : base_(base) {}
    [[nodiscard]] std::string_view name() const override { return "scratch"; }
    std::string mmio(Vmm& vmm, Gpa addr, std::span<std::uint8_t> data, bool is_write) override;

    // A range this large is refused by the scenario engine: it is meant for register banks.
    static constexpr std::uint64_t kMaxSize = 1u << 20;

private:
    Gpa base_;
    std::unordered_map<std::uint64_t, std::uint8_t> regs_;  // written bytes only; the rest read as 0
};

}  // namespace kvmsim::vmm
