// kvmtool's memory maps (the kvm-arch.h headers of arm, riscv and x86) and start-up bank order.
#include "memory_map.h"

#include <array>

namespace kvmsim::vmm {
namespace {

// arm/include/arm-common/kvm-arch.h (kvmtool master: the flash between the platform MMIO and
// virtio-mmio, the PCI I/O window alone below 64 KiB).
constexpr std::array kArmMap = {
    MapArea{"ARM_IOPORT_AREA", ARM_IOPORT_AREA, ARM_IOPORT_SIZE, "PCI I/O space: an MMIO exit here is port I/O (kvm__emulate_io)"},
    MapArea{"ARM_UART_MMIO_BASE", ARM_UART_MMIO_BASE, 0x10000, "8250 UART (platform MMIO area ARM_MMIO_AREA)"},
    MapArea{"ARM_RTC_MMIO_BASE", ARM_RTC_MMIO_BASE, 0x10000, "RTC"},
    MapArea{"ARM_PVTIME_BASE", ARM_PVTIME_BASE, ARM_PVTIME_SIZE, "stolen-time structures: a RAM bank (arm64, KVM_CAP_STEAL_TIME)"},
    MapArea{"KVM_FLASH_MMIO_BASE", ARM_FLASH_MMIO_BASE, ARM_FLASH_MAX_SIZE, "CFI flash (-F): RAM|READONLY bank and MMIO on the same range"},
    MapArea{"KVM_VIRTIO_MMIO_AREA", ARM_FLASH_MMIO_BASE + ARM_FLASH_MAX_SIZE, ARM_AXI_AREA - (ARM_FLASH_MMIO_BASE + ARM_FLASH_MAX_SIZE) - 0x30000,
            "virtio-mmio transports"},
    MapArea{"ARM_GIC_CPUI_BASE", ARM_AXI_AREA - 0x30000, 0x20000, "GICv2 CPU interface (GICv3: redistributors below the distributor)"},
    MapArea{"ARM_GIC_DIST_BASE", ARM_AXI_AREA - 0x10000, 0x10000, "GIC distributor"},
    MapArea{"KVM_PCI_CFG_AREA", ARM_AXI_AREA, 1u << 28, "PCI configuration space (ECAM)"},
    MapArea{"KVM_PCI_MMIO_AREA", ARM_AXI_AREA + (1u << 28), ARM_MEMORY_AREA - (ARM_AXI_AREA + (1u << 28)), "PCI memory BARs"},
    MapArea{"ARM_MEMORY_AREA", ARM_MEMORY_AREA, 0, "guest RAM"},
};

// riscv/include/kvm/kvm-arch.h: the same shape at other addresses, and no flash.
constexpr std::array kRiscvMap = {
    MapArea{"RISCV_IOPORT", RISCV_IOPORT, RISCV_IOPORT_SIZE, "PCI I/O space: an MMIO exit here is port I/O (kvm__emulate_io)"},
    MapArea{"RISCV_IRQCHIP", 0x08000000, 128u << 20, "PLIC or AIA"},
    MapArea{"RISCV_UART_MMIO_BASE", 0x10000000, 0x10000, "8250 UART (RISCV_MMIO area)"},
    MapArea{"RISCV_RTC_MMIO_BASE", 0x10010000, 0x10000, "RTC"},
    MapArea{"KVM_VIRTIO_MMIO_AREA", 0x10020000, (512u << 20) - 0x20000, "virtio-mmio transports"},
    MapArea{"KVM_PCI_CFG_AREA", 0x30000000, 256u << 20, "PCI configuration space"},
    MapArea{"KVM_PCI_MMIO_AREA", 0x40000000, 1u << 30, "PCI memory BARs"},
    MapArea{"RISCV_RAM", RISCV_RAM, 0, "guest RAM"},
};

// x86/include/kvm/kvm-arch.h and x86/kvm.c: RAM from 0, split around the 32-bit gap.
constexpr std::array kX86Map = {
    MapArea{"RAM (low)", 0x0, 0xd0000000, "guest RAM below the gap (real port I/O: KVM_EXIT_IO, no window)"},
    MapArea{"KVM_MMIO_START", 0xd0000000, 768u << 20, "KVM_32BIT_GAP: PCI and virtio-mmio areas"},
    MapArea{"RAM (high)", 1ull << 32, 0, "guest RAM above 4 GiB"},
};

constexpr std::array kArmBanks = {
    BankOrder{"RAM at ARM_MEMORY_AREA", "kvm__init_ram() from kvm__init() (core_init)", "always"},
    BankOrder{"pvtime RAM at ARM_PVTIME_BASE", "pvtime__alloc_region() from kvm_cpu__init() (base_init)",
              "arm64, KVM_CAP_STEAL_TIME, no --no-pvtime"},
    BankOrder{"flash RAM|READONLY at KVM_FLASH_MMIO_BASE", "create_flash_device_file() from flash__init() (dev_init)", "-F file given"},
};
constexpr std::array kRiscvBanks = {
    BankOrder{"RAM at RISCV_RAM", "kvm__init_ram() from kvm__init() (core_init)", "always"},
};
constexpr std::array kX86Banks = {
    BankOrder{"RAM below the gap", "kvm__init_ram() from kvm__init() (core_init)", "always"},
    BankOrder{"KVM_32BIT_GAP as RESERVED (no memslot, takes a slot number)", "kvm__init_ram()", "RAM larger than the gap start"},
    BankOrder{"RAM above 4 GiB", "kvm__init_ram()", "RAM larger than the gap start"},
};

}  // namespace

std::string_view to_string(VmmArch a) {
    switch (a) {
    case VmmArch::X86_64: return "x86_64";
    case VmmArch::Arm64: return "arm64";
    case VmmArch::Riscv64: return "riscv64";
    }
    return "?";
}

std::optional<VmmArch> vmm_arch_from_string(std::string_view s) {
    if (s == "x86_64") return VmmArch::X86_64;
    if (s == "arm64") return VmmArch::Arm64;
    if (s == "riscv64") return VmmArch::Riscv64;
    return std::nullopt;
}

std::span<const MapArea> kvmtool_memory_map(VmmArch arch) {
    switch (arch) {
    case VmmArch::Arm64: return kArmMap;
    case VmmArch::Riscv64: return kRiscvMap;
    case VmmArch::X86_64: break;
    }
    return kX86Map;
}

std::span<const BankOrder> kvmtool_bank_order(VmmArch arch) {
    switch (arch) {
    case VmmArch::Arm64: return kArmBanks;
    case VmmArch::Riscv64: return kRiscvBanks;
    case VmmArch::X86_64: break;
    }
    return kX86Banks;
}

// models arm_addr_in_ioport_region(), arm/include/arm-common/kvm-arch.h (kvmtool)
bool addr_in_ioport_region(VmmArch arch, std::uint64_t phys_addr) {
    if (arch == VmmArch::Arm64) return phys_addr >= ARM_IOPORT_AREA && phys_addr < ARM_IOPORT_AREA + ARM_IOPORT_SIZE;
    if (arch == VmmArch::Riscv64) return phys_addr >= RISCV_IOPORT && phys_addr < RISCV_IOPORT + RISCV_IOPORT_SIZE;
    return false;
}

}  // namespace kvmsim::vmm
