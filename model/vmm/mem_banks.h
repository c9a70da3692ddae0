// kvmtool's list of memory banks (struct kvm_mem_bank, kvm->mem_banks in include/kvm/kvm.h and
// kvm.c). Each bank but a RESERVED one is one KVM memslot; the VMM drives the kernel only
// through KVM_SET_USER_MEMORY_REGION on its VM fd (VmIoctls), as kvmtool drives /dev/kvm.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <string>

#include "../types.h"
#include "log.h"
#include "mem_type.h"
#include "vmm_host.h"

namespace kvmsim::vmm {

// struct kvm_mem_bank, include/kvm/kvm.h
struct kvm_mem_bank {
    Gpa guest_phys_addr;
    Hva host_addr;
    std::uint64_t size = 0;
    MemType type = 0;
    std::uint32_t slot = 0;
};

class MemBanks {
public:
    MemBanks(VmIoctls& ioctls, VmmLog& log) : kvm_(ioctls), log_(log) {}

    // models kvm__register_mem(), kvm.c (kvmtool)
    KvmResult register_mem(Gpa guest_phys, std::uint64_t size, Hva userspace_addr, MemType type);
    // models kvm__destroy_mem(), kvm.c (kvmtool)
    KvmResult destroy_mem(Gpa guest_phys, std::uint64_t size, Hva userspace_addr);
    // models kvm__for_each_mem_bank(), kvm.c (kvmtool): stops at the first non-zero return
    int for_each_mem_bank(MemType type, const std::function<int(const kvm_mem_bank&)>& fn) const;

    // One line per bank selected by `type`, in slot order: "slot 1: RAM (read-only) region
    // [2000000-200ffff]". kvmtool has no listing command; the wording is its overlap message's.
    [[nodiscard]] std::string listing(MemType type = memtype::All) const;

    [[nodiscard]] const std::list<kvm_mem_bank>& banks() const { return banks_; }
    [[nodiscard]] std::uint32_t mem_slots() const { return mem_slots_; }  // kvm->mem_slots

private:
    VmIoctls& kvm_;  // the VM fd
    VmmLog& log_;
    std::list<kvm_mem_bank> banks_;  // ascending slot order, as kvmtool keeps it
    std::uint32_t mem_slots_ = 0;
};

}  // namespace kvmsim::vmm
