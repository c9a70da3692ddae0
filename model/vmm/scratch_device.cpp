#include "scratch_device.h"

#include "../trace.h"

namespace kvmsim::vmm {

std::string ScratchDevice::mmio(Vmm&, Gpa addr, std::span<std::uint8_t> data, bool is_write) {
    const std::uint64_t off = addr - base_;
    // The bus only hands over accesses that lie wholly inside the range.
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (is_write) regs_[off + i] = data[i];
        else if (auto it = regs_.find(off + i); it != regs_.end()) data[i] = it->second;
        else data[i] = 0;
    }
    return std::string(is_write ? "stored " : "returned ") + std::to_string(data.size()) + " bytes at offset " + hex(off);
}

}  // namespace kvmsim::vmm
