#include "scratch_device.h"

#include <algorithm>

#include "../trace.h"

namespace kvmsim::vmm {

std::string ScratchDevice::mmio(Vmm&, Gpa addr, std::span<std::uint8_t> data, bool is_write) {
    const std::uint64_t off = addr - base_;
    // The bus only hands over accesses that lie wholly inside the range.
    if (is_write) std::copy(data.begin(), data.end(), regs_.begin() + static_cast<std::ptrdiff_t>(off));
    else std::copy_n(regs_.begin() + static_cast<std::ptrdiff_t>(off), data.size(), data.begin());
    return std::string(is_write ? "stored " : "returned ") + std::to_string(data.size()) + " bytes at offset " + hex(off);
}

}  // namespace kvmsim::vmm
