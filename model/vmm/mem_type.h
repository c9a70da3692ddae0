// kvmtool's memory bank types (enum kvm_mem_type, include/kvm/kvm.h): a bitmask, READONLY being
// a modifier combined with a base type (the CFI flash registers RAM|READONLY).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace kvmsim::vmm {

using MemType = std::uint32_t;

namespace memtype {
inline constexpr MemType Ram = 1u << 0;       // KVM_MEM_TYPE_RAM
inline constexpr MemType Device = 1u << 1;    // KVM_MEM_TYPE_DEVICE
inline constexpr MemType Reserved = 1u << 2;  // KVM_MEM_TYPE_RESERVED
inline constexpr MemType Readonly = 1u << 3;  // KVM_MEM_TYPE_READONLY (seed 000)
inline constexpr MemType All = Ram | Device | Reserved | Readonly;  // KVM_MEM_TYPE_ALL
}  // namespace memtype

// models kvm_mem_type_to_string(), include/kvm/kvm.h (kvmtool, as patched by seed 000)
[[nodiscard]] std::string_view kvm_mem_type_to_string(MemType type);

// "RAM", "READONLY", "RAM|READONLY" or a number: the names a scenario uses for a type.
[[nodiscard]] std::optional<MemType> mem_type_from_string(std::string_view text);

}  // namespace kvmsim::vmm
