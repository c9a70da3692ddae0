#include "caps.h"

#include <array>
#include <utility>

namespace kvmsim {
namespace {

constexpr std::array kCapNames = {
    std::pair{Cap::UserMemory, std::string_view{"KVM_CAP_USER_MEMORY"}},
    std::pair{Cap::NrVcpus, std::string_view{"KVM_CAP_NR_VCPUS"}},
    std::pair{Cap::NrMemslots, std::string_view{"KVM_CAP_NR_MEMSLOTS"}},
    std::pair{Cap::CoalescedMmio, std::string_view{"KVM_CAP_COALESCED_MMIO"}},
    std::pair{Cap::SyncMmu, std::string_view{"KVM_CAP_SYNC_MMU"}},
    std::pair{Cap::DestroyMemoryRegionWorks, std::string_view{"KVM_CAP_DESTROY_MEMORY_REGION_WORKS"}},
    std::pair{Cap::JoinMemoryRegionsWorks, std::string_view{"KVM_CAP_JOIN_MEMORY_REGIONS_WORKS"}},
    std::pair{Cap::MaxVcpus, std::string_view{"KVM_CAP_MAX_VCPUS"}},
    std::pair{Cap::ReadonlyMem, std::string_view{"KVM_CAP_READONLY_MEM"}},
    std::pair{Cap::MultiAddressSpace, std::string_view{"KVM_CAP_MULTI_ADDRESS_SPACE"}},
    std::pair{Cap::ManualDirtyLogProtect2, std::string_view{"KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2"}},
    std::pair{Cap::DirtyLogRing, std::string_view{"KVM_CAP_DIRTY_LOG_RING"}},
    std::pair{Cap::UserMemory2, std::string_view{"KVM_CAP_USER_MEMORY2"}},
    std::pair{Cap::MemoryFaultInfo, std::string_view{"KVM_CAP_MEMORY_FAULT_INFO"}},
    std::pair{Cap::MemoryAttributes, std::string_view{"KVM_CAP_MEMORY_ATTRIBUTES"}},
    std::pair{Cap::GuestMemfd, std::string_view{"KVM_CAP_GUEST_MEMFD"}},
    std::pair{Cap::VmTypes, std::string_view{"KVM_CAP_VM_TYPES"}},
    std::pair{Cap::Irqchip, std::string_view{"KVM_CAP_IRQCHIP"}},
    std::pair{Cap::MpState, std::string_view{"KVM_CAP_MP_STATE"}},
    std::pair{Cap::SetGuestDebug, std::string_view{"KVM_CAP_SET_GUEST_DEBUG"}},
    std::pair{Cap::Ioeventfd, std::string_view{"KVM_CAP_IOEVENTFD"}},
    std::pair{Cap::VcpuEvents, std::string_view{"KVM_CAP_VCPU_EVENTS"}},
    std::pair{Cap::OneReg, std::string_view{"KVM_CAP_ONE_REG"}},
    std::pair{Cap::ArmPsci, std::string_view{"KVM_CAP_ARM_PSCI"}},
    std::pair{Cap::ArmPsci02, std::string_view{"KVM_CAP_ARM_PSCI_0_2"}},
    std::pair{Cap::GuestDebugHwBps, std::string_view{"KVM_CAP_GUEST_DEBUG_HW_BPS"}},
    std::pair{Cap::GuestDebugHwWps, std::string_view{"KVM_CAP_GUEST_DEBUG_HW_WPS"}},
    std::pair{Cap::ArmPmuV3, std::string_view{"KVM_CAP_ARM_PMU_V3"}},
    std::pair{Cap::MaxVcpuId, std::string_view{"KVM_CAP_MAX_VCPU_ID"}},
    std::pair{Cap::MsiDevid, std::string_view{"KVM_CAP_MSI_DEVID"}},
    std::pair{Cap::ImmediateExit, std::string_view{"KVM_CAP_IMMEDIATE_EXIT"}},
    std::pair{Cap::ArmVmIpaSize, std::string_view{"KVM_CAP_ARM_VM_IPA_SIZE"}},
    std::pair{Cap::ArmPtrauthAddress, std::string_view{"KVM_CAP_ARM_PTRAUTH_ADDRESS"}},
    std::pair{Cap::ArmPtrauthGeneric, std::string_view{"KVM_CAP_ARM_PTRAUTH_GENERIC"}},
    std::pair{Cap::ArmNisvToUser, std::string_view{"KVM_CAP_ARM_NISV_TO_USER"}},
    std::pair{Cap::ArmInjectExtDabt, std::string_view{"KVM_CAP_ARM_INJECT_EXT_DABT"}},
    std::pair{Cap::ArmMte, std::string_view{"KVM_CAP_ARM_MTE"}},
    std::pair{Cap::ArmLockUserMemoryRegion, std::string_view{"KVM_CAP_ARM_LOCK_USER_MEMORY_REGION"}},
    std::pair{Cap::CounterOffset, std::string_view{"KVM_CAP_COUNTER_OFFSET"}},
};

}  // namespace

std::optional<Cap> cap_from_string(std::string_view name) {
    for (auto [cap, n] : kCapNames)
        if (n == name) return cap;
    return std::nullopt;
}

std::string to_string(Cap cap) {
    for (auto [c, n] : kCapNames)
        if (c == cap) return std::string(n);
    return std::to_string(static_cast<std::uint32_t>(cap));
}

}  // namespace kvmsim
