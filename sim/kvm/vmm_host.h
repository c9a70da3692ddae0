// The VMM layer's outside world on the real /dev/kvm: its ioctls go to the backend's VM fd, its
// own memory is the scenario's host mappings as HostLayout made them, and KVM_RUN is a real
// KVM_RUN per exit, supplied by the backend. Addresses stay the scenario's; the translation to
// this process's happens here.
#pragma once

#include <functional>

#include "../vmm_steps.h"
#include "fd.h"
#include "host_layout.h"
#include "slot_table.h"

namespace kvmsim::sim::kvmhost {

// KVM_CHECK_EXTENSION and KVM_SET_USER_MEMORY_REGION on the VM fd; accepted regions are
// recorded in the backend's slot table, as its own KVM_SET_USER_MEMORY_REGION steps are.
class KvmVmIoctls final : public vmm::VmIoctls {
public:
    KvmVmIoctls(const Fd& vm, const HostLayout& layout, SlotTable& slots) : vm_(vm), layout_(layout), slots_(slots) {}
    [[nodiscard]] long check_extension(Cap cap) override;
    KvmResult set_user_memory_region(const kvm_userspace_memory_region& region) override;
    [[nodiscard]] Trace& trace() override { return trace_; }

private:
    const Fd& vm_;
    const HostLayout& layout_;
    SlotTable& slots_;
    Trace trace_;  // off: the kvm backend reports outcomes, not the model's reasoning
};

// The VMM's memory: only mappings the layout made are touched. Loads and stores go through
// process_vm_readv/writev, which honour the mapping's protection as the VMM's memcpy would
// (a refused copy is the SIGSEGV kvmtool would take) without faulting this process.
class KvmVmmMemory final : public vmm::VmmMemory {
public:
    explicit KvmVmmMemory(HostLayout& layout) : layout_(layout) {}
    [[nodiscard]] bool mapped(Hva hva, std::uint64_t len) const override { return layout_.owns(hva.value(), len); }
    bool load(Hva hva, std::span<std::uint8_t> out) override;
    bool store(Hva hva, std::span<const std::uint8_t> in) override;
    KvmResult munmap(Hva hva, std::uint64_t size) override;

private:
    HostLayout& layout_;
};

// The VMM steps' host on /dev/kvm. `vcpu_run` is the backend's: it prepares its guest code and
// runs one access with a real KVM_RUN per exit, each MMIO exit answered by the VMM in order.
class KvmVmmHost final : public VmmHost {
public:
    using VcpuRun = std::function<std::optional<vmm::KvmRun>(std::uint32_t)>;
    KvmVmmHost(const Fd& vm, HostLayout& layout, SlotTable& slots, VcpuRun vcpu_run)
        : slots_(slots), ioctls_(vm, layout, slots), memory_(layout), vcpu_run_(std::move(vcpu_run)) {}

    [[nodiscard]] vmm::VmIoctls& ioctls() override { return ioctls_; }
    [[nodiscard]] vmm::VmmMemory& memory() override { return memory_; }
    [[nodiscard]] std::optional<vmm::KvmRun> vcpu_run(std::uint32_t id) override { return vcpu_run_(id); }
    // Address space 0 of the slots the kernel accepted, in the model's form.
    [[nodiscard]] nlohmann::json memslots() const override;
    // kvmtool built for the host's architecture (kHostArch).
    [[nodiscard]] vmm::VmmArch arch() const override;

private:
    const SlotTable& slots_;
    KvmVmIoctls ioctls_;
    KvmVmmMemory memory_;
    VcpuRun vcpu_run_;
};

}  // namespace kvmsim::sim::kvmhost
