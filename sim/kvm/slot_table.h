// The memslots the kvm backend has created on its VM, as the scenario wrote them: the kernel
// offers no way to read its memslot table back, so the backend keeps every
// KVM_SET_USER_MEMORY_REGION the kernel accepted (its own guest-code slot excepted).
#pragma once

#include <cstdint>
#include <map>

namespace kvmsim::sim::kvmhost {

struct SlotRecord {
    std::uint64_t gpa, size, uaddr;  // uaddr as the scenario wrote it
    std::uint32_t flags = 0;
};

// By slot number (address space in bits 16 and up, as the ioctl takes it).
using SlotTable = std::map<std::uint32_t, SlotRecord>;

}  // namespace kvmsim::sim::kvmhost
