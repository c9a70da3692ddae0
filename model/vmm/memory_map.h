// kvmtool's guest physical memory maps, as data: where each architecture puts RAM, the flash,
// the PCI I/O window, its MMIO and PCI areas (arm/include/arm-common/kvm-arch.h,
// riscv/include/kvm/kvm-arch.h, x86/include/kvm/kvm-arch.h), and the order in which kvmtool
// registers the memory banks that get memslots (its init levels), which decides slot numbers.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace kvmsim::vmm {

enum class VmmArch { X86_64, Arm64, Riscv64 };

[[nodiscard]] std::string_view to_string(VmmArch a);
[[nodiscard]] std::optional<VmmArch> vmm_arch_from_string(std::string_view s);

// One area of the map. `end` is exclusive; 0 means "to the top of the IPA space" (RAM).
struct MapArea {
    std::string_view name;  // the kvmtool macro that places it
    std::uint64_t base = 0;
    std::uint64_t size = 0;
    std::string_view what;
};

// One memory bank kvmtool registers, in registration order (slot numbers follow it: each
// registration takes the lowest free slot, kvm__register_mem(), kvm.c).
struct BankOrder {
    std::string_view bank;
    std::string_view registered_by;  // kvmtool function and the init level that calls it
    std::string_view when;           // the condition under which it exists
};

// arm (arm/include/arm-common/kvm-arch.h, kvmtool master)
inline constexpr std::uint64_t ARM_IOPORT_AREA = 0x0;
inline constexpr std::uint64_t ARM_IOPORT_SIZE = 1u << 16;
inline constexpr std::uint64_t ARM_MMIO_AREA = 0x1000000;
inline constexpr std::uint64_t ARM_UART_MMIO_BASE = ARM_MMIO_AREA;
inline constexpr std::uint64_t ARM_RTC_MMIO_BASE = ARM_UART_MMIO_BASE + 0x10000;
inline constexpr std::uint64_t ARM_PVTIME_BASE = ARM_RTC_MMIO_BASE + 0x10000;
inline constexpr std::uint64_t ARM_PVTIME_SIZE = 0x10000;
inline constexpr std::uint64_t ARM_FLASH_MMIO_BASE = ARM_MMIO_AREA + 0x1000000;  // KVM_FLASH_MMIO_BASE
inline constexpr std::uint64_t ARM_FLASH_MAX_SIZE = 0x1000000;                   // KVM_FLASH_MAX_SIZE
inline constexpr std::uint64_t ARM_AXI_AREA = 0x40000000;
inline constexpr std::uint64_t ARM_MEMORY_AREA = 0x80000000;

// riscv (riscv/include/kvm/kvm-arch.h)
inline constexpr std::uint64_t RISCV_IOPORT = 0x0;
inline constexpr std::uint64_t RISCV_IOPORT_SIZE = 1u << 16;
inline constexpr std::uint64_t RISCV_RAM = 0x80000000;

// The map of `arch`, lowest address first.
[[nodiscard]] std::span<const MapArea> kvmtool_memory_map(VmmArch arch);
// The banks kvmtool registers at start-up on `arch`, in order.
[[nodiscard]] std::span<const BankOrder> kvmtool_bank_order(VmmArch arch);

// models arm_addr_in_ioport_region(), arm/include/arm-common/kvm-arch.h (kvmtool), and
// riscv_addr_in_ioport_region(), riscv/include/kvm/kvm-arch.h: an MMIO exit below 64 KiB is
// port I/O to kvmtool on these arches (x86 has real port I/O and no such window).
[[nodiscard]] bool addr_in_ioport_region(VmmArch arch, std::uint64_t phys_addr);

}  // namespace kvmsim::vmm
