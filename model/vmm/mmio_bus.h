// kvmtool's MMIO emulation tree (mmio.c): devices own guest physical ranges, and a trapped
// access goes to the device whose range holds all of it.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>

#include "../result.h"
#include "../types.h"

namespace kvmsim::vmm {

class Vmm;

// A device's MMIO callback (kvmtool's mmio_fn). It returns, in words, what it decided, so the
// run loop can report it; it never prints.
class MmioDevice {
public:
    virtual ~MmioDevice() = default;
    [[nodiscard]] virtual std::string_view name() const = 0;
    // data holds the written bytes, or receives the bytes a read returns (kvm_run->mmio.data).
    virtual std::string mmio(Vmm& vmm, Gpa addr, std::span<std::uint8_t> data, bool is_write) = 0;
};

class MmioBus {
public:
    // models kvm__register_mmio(), mmio.c (kvmtool; coalescing off): -EEXIST on any overlap
    KvmResult register_mmio(Gpa phys_addr, std::uint64_t len, MmioDevice& device);
    // models kvm__deregister_mmio(), mmio.c (kvmtool): false when no range starts at phys_addr
    bool deregister_mmio(Gpa phys_addr);
    // models mmio_search(), mmio.c (kvmtool): the range holding all of [addr, addr + len)
    [[nodiscard]] MmioDevice* search(Gpa addr, std::uint64_t len) const;

private:
    struct Range {
        std::uint64_t end = 0;  // exclusive
        MmioDevice* device = nullptr;
    };
    std::map<std::uint64_t, Range> ranges_;  // by start; never overlapping
};

}  // namespace kvmsim::vmm
