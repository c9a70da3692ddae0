// A guest access by virtual address: translated by the MMU the platform gives KVM (shadow
// paging with KVM's software walker, or EPT / NPT where the CPU walks), then performed at the
// guest physical address it lands on, with a fault delivered to the guest through its IDT.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "../kvm/kvm.h"
#include "../host/host_description.h"
#include "../kvm/run.h"
#include "paging.h"
#include "platform.h"
#include "walker.h"

namespace kvmsim {

enum class GvaAccessType { Read, Write, Fetch };

struct GvaAccess {
    Gva gva;
    unsigned size = 4;  // 1, 2, 4 or 8
    GvaAccessType type = GvaAccessType::Read;
    unsigned cpl = 0;  // 0 supervisor, 3 user
    std::uint64_t data = 0;
    std::array<std::uint8_t, 8> mmio_reply{};
};

struct GvaAccessResult {
    GuestAccessResult access;
    std::vector<guest_walker> walks;  // every walk made, in order (for tests and traces)
};

// The guest CPUID the walker checks reserved bits against: KVM_GET_SUPPORTED_CPUID on the host.
[[nodiscard]] GuestCpuid guest_cpuid(Platform p, const HostDescription& host = {});
// The host description of an x86 VM (its X86Arch's); the defaults for any other arch.
[[nodiscard]] const HostDescription& host_of(const kvm& k);

// Runs one guest access by gva on the vCPU to completion (paging off: the gva is the gpa).
GvaAccessResult x86_guest_access_gva(kvm& kvm, kvm_vcpu& vcpu, Platform platform, const X86PagingState& state, const GvaAccess& a);

}  // namespace kvmsim
