// KVM_CHECK_EXTENSION capability numbers (include/uapi/linux/kvm.h) and their names.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace kvmsim {

// The enumerators carry the UAPI numbers; other numbers are valid too (an unknown cap answers 0).
enum class Cap : std::uint32_t {
    UserMemory = 3,                  // KVM_CAP_USER_MEMORY
    NrMemslots = 10,                 // KVM_CAP_NR_MEMSLOTS
    CoalescedMmio = 15,              // KVM_CAP_COALESCED_MMIO
    SyncMmu = 16,                    // KVM_CAP_SYNC_MMU
    DestroyMemoryRegionWorks = 21,   // KVM_CAP_DESTROY_MEMORY_REGION_WORKS
    JoinMemoryRegionsWorks = 30,     // KVM_CAP_JOIN_MEMORY_REGIONS_WORKS
    NrVcpus = 9,                     // KVM_CAP_NR_VCPUS
    MaxVcpus = 66,                   // KVM_CAP_MAX_VCPUS
    ReadonlyMem = 81,                // KVM_CAP_READONLY_MEM
    MultiAddressSpace = 118,         // KVM_CAP_MULTI_ADDRESS_SPACE
    ManualDirtyLogProtect2 = 168,    // KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
    DirtyLogRing = 192,              // KVM_CAP_DIRTY_LOG_RING
    UserMemory2 = 231,               // KVM_CAP_USER_MEMORY2
    MemoryFaultInfo = 232,           // KVM_CAP_MEMORY_FAULT_INFO
    MemoryAttributes = 233,          // KVM_CAP_MEMORY_ATTRIBUTES
    GuestMemfd = 234,                // KVM_CAP_GUEST_MEMFD
    VmTypes = 235,                   // KVM_CAP_VM_TYPES
};

[[nodiscard]] std::optional<Cap> cap_from_string(std::string_view name);
[[nodiscard]] std::string to_string(Cap cap);  // the UAPI name, or the number for an unknown cap

}  // namespace kvmsim
