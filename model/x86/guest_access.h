// A guest physical access from an x86 vCPU with paging off: what KVM_RUN shows userspace.
#pragma once

#include <array>
#include <cstdint>

#include "../kvm/kvm.h"
#include "../kvm/run.h"
#include "platform.h"

namespace kvmsim {

enum class AccessType { Read, Write };

struct GuestAccess {
    Gpa gpa;
    unsigned size = 4;  // 1, 2, 4 or 8
    AccessType type = AccessType::Read;
    std::uint64_t data = 0;                    // a write's value, little-endian
    std::array<std::uint8_t, 8> mmio_reply{};  // what userspace answers to MMIO reads, by byte of the access
};

// Runs one guest load or store to completion (answering MMIO reads with mmio_reply) and
// returns the events in the order userspace sees them.
GuestAccessResult x86_guest_access(kvm& kvm, kvm_vcpu& vcpu, const PlatformOptions& platform, const GuestAccess& access);

}  // namespace kvmsim
