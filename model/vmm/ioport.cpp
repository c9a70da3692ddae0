// kvmtool's port I/O bus as arm and riscv reach it: an MMIO exit inside the PCI I/O window
// (below 64 KiB) is turned into port I/O (kvm_cpu__emulate_mmio(), kvm-cpu-arch.h) and looked
// up in the pio tree, not in the MMIO tree.
#include <cstdio>

#include "vmm.h"

namespace kvmsim::vmm {

// models kvm__emulate_io(), mmio.c (kvmtool). The model registers no port I/O devices (kvmtool's
// are the PCI I/O BARs of virtio-pci and VFIO devices), so every port is unclaimed: ignored, or
// with --debug-ioport "IO error: ..." and false, which ends the vCPU (kvm_cpu__start()'s
// panic_kvm). A device on the MMIO tree at the same address is never consulted.
bool Vmm::emulate_io(HandledExit& exit, std::span<std::uint8_t>) {
    const kvm_run_mmio& m = exit.event.mmio;
    const unsigned port = static_cast<unsigned>(m.phys_addr.value() - ARM_IOPORT_AREA) & 0xffffu;
    const char* direction = m.is_write ? "OUT" : "IN";
    char port_hex[8];
    std::snprintf(port_hex, sizeof port_hex, "%x", port);
    trace().emit("kvm__emulate_io", [&] {
        return std::string("MMIO exit at ") + hex(m.phys_addr.value()) + " is in the PCI I/O window: port " + port_hex + " " + direction +
               ", no port I/O device";
    });
    if (debug_ioport) {
        exit.decision = "port I/O window: no device on port " + std::string(port_hex) + ", --debug-ioport: error";
        log_.raw(std::string("IO error: ") + direction + " port=" + port_hex + ", size=" + std::to_string(m.len) + ", count=1");
        return false;
    }
    exit.decision = "port I/O window: no device on port " + std::string(port_hex) + ": ignored";
    return true;
}

}  // namespace kvmsim::vmm
