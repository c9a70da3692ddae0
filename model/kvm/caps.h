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
    // arm64 (arch/arm64/kvm/arm.c answers these)
    Irqchip = 0,                     // KVM_CAP_IRQCHIP
    MpState = 14,                    // KVM_CAP_MP_STATE
    SetGuestDebug = 23,              // KVM_CAP_SET_GUEST_DEBUG
    Ioeventfd = 36,                  // KVM_CAP_IOEVENTFD
    VcpuEvents = 41,                 // KVM_CAP_VCPU_EVENTS
    OneReg = 70,                     // KVM_CAP_ONE_REG
    ArmPsci = 87,                    // KVM_CAP_ARM_PSCI
    ArmPsci02 = 102,                 // KVM_CAP_ARM_PSCI_0_2
    GuestDebugHwBps = 119,           // KVM_CAP_GUEST_DEBUG_HW_BPS
    GuestDebugHwWps = 120,           // KVM_CAP_GUEST_DEBUG_HW_WPS
    ArmPmuV3 = 126,                  // KVM_CAP_ARM_PMU_V3
    MaxVcpuId = 128,                 // KVM_CAP_MAX_VCPU_ID
    MsiDevid = 131,                  // KVM_CAP_MSI_DEVID
    ImmediateExit = 136,             // KVM_CAP_IMMEDIATE_EXIT
    ArmVmIpaSize = 165,              // KVM_CAP_ARM_VM_IPA_SIZE
    ArmPtrauthAddress = 171,         // KVM_CAP_ARM_PTRAUTH_ADDRESS
    ArmPtrauthGeneric = 172,         // KVM_CAP_ARM_PTRAUTH_GENERIC
    ArmNisvToUser = 177,             // KVM_CAP_ARM_NISV_TO_USER
    ArmInjectExtDabt = 178,          // KVM_CAP_ARM_INJECT_EXT_DABT
    ArmMte = 205,                    // KVM_CAP_ARM_MTE
    // The memslot-lock RFC's number in v4 (its seed patch); v5 moved it to 207 because
    // upstream took 206 for KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM. The name resolves per profile
    // (model/arm64/lock_memslot.h, lock_cap_number()).
    ArmLockUserMemoryRegion = 206,   // KVM_CAP_ARM_LOCK_USER_MEMORY_REGION (RFC, never merged)
    CounterOffset = 227,             // KVM_CAP_COUNTER_OFFSET
};

[[nodiscard]] std::optional<Cap> cap_from_string(std::string_view name);
[[nodiscard]] std::string to_string(Cap cap);  // the UAPI name, or the number for an unknown cap

}  // namespace kvmsim
