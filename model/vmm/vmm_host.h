// What the VMM reaches outside itself: the VM fd (kvmtool's ioctls on kvm->vm_fd) and its own
// address space (the file mappings its devices keep). kvmtool does both with syscalls; the
// model binds them to the kernel model (model_host.h), the real-KVM backend to /dev/kvm and
// real mappings (sim/kvm/vmm_host.h). Addresses are always the scenario's.
#pragma once

#include <cstdint>
#include <span>

#include "../kvm/caps.h"
#include "../kvm/kvm.h"
#include "../result.h"
#include "../trace.h"
#include "../types.h"

namespace kvmsim::vmm {

// The ioctls kvmtool issues on its VM fd.
class VmIoctls {
public:
    virtual ~VmIoctls() = default;
    // KVM_CHECK_EXTENSION on the VM fd: the capability's value (0: absent)
    [[nodiscard]] virtual long check_extension(Cap cap) = 0;
    // KVM_SET_USER_MEMORY_REGION on the VM fd: 0 or the errno
    virtual KvmResult set_user_memory_region(const kvm_userspace_memory_region& region) = 0;
    // Where the VMM's decisions go when tracing is on.
    [[nodiscard]] virtual Trace& trace() = 0;
};

// The VMM process's own memory, as its devices touch it.
class VmmMemory {
public:
    virtual ~VmmMemory() = default;
    // Whether every byte of [hva, hva + len) is mapped.
    [[nodiscard]] virtual bool mapped(Hva hva, std::uint64_t len) const = 0;
    // A memcpy out of / into the VMM's own mapping: false where it would fault (SIGSEGV).
    virtual bool load(Hva hva, std::span<std::uint8_t> out) = 0;
    virtual bool store(Hva hva, std::span<const std::uint8_t> in) = 0;
    // munmap() of a mapping the VMM made: 0 or the errno.
    virtual KvmResult munmap(Hva hva, std::uint64_t size) = 0;
};

}  // namespace kvmsim::vmm
