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
