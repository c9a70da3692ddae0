// The VMM's outside world bound to the kernel model: ioctls go to `kvm`, the VMM's memory is a
// HostMm. This is what kvmtool on a modelled kernel sees.
#pragma once

#include "../host/host_mm.h"
#include "../kvm/kvm.h"
#include "../x86/platform.h"
#include "vmm.h"
#include "vmm_host.h"

namespace kvmsim::vmm {

class ModelVmIoctls final : public VmIoctls {
public:
    explicit ModelVmIoctls(kvm& vm) : kvm_(vm) {}
    [[nodiscard]] long check_extension(Cap cap) override { return kvm_.check_extension(cap, CheckOn::VmFd).value(); }  // the VMM asks only modelled caps
    KvmResult set_user_memory_region(const kvm_userspace_memory_region& region) override { return kvm_.set_user_memory_region(region); }
    [[nodiscard]] Trace& trace() override { return kvm_.trace(); }

private:
    kvm& kvm_;
};

class ModelVmmMemory final : public VmmMemory {
public:
    ModelVmmMemory(kvm& vm, HostMm& mm) : kvm_(vm), mm_(mm) {}
    [[nodiscard]] bool mapped(Hva hva, std::uint64_t len) const override;
    // A user memcpy honours the mapping's protection as copy_{from,to}_user does.
    bool load(Hva hva, std::span<std::uint8_t> out) override { return mm_.copy_from_user(hva, out); }
    bool store(Hva hva, std::span<const std::uint8_t> in) override { return mm_.copy_to_user(hva, in); }
    // The unmap runs the MMU notifier first, as munmap() does for a VM's mm.
    KvmResult munmap(Hva hva, std::uint64_t size) override;

private:
    kvm& kvm_;
    HostMm& mm_;
};

// KVM_RUN for the VMM's loop on the modelled vCPU: the model runs the access whole, then hands
// its exits to the VMM one by one, as consecutive KVM_RUNs would.
[[nodiscard]] KvmRun model_kvm_run(kvm& vm, kvm_vcpu& vcpu, const PlatformOptions& platform);

// models complete_emulated_mmio(), arch/x86/kvm/x86.c: each MMIO exit of an access that the
// model ran whole goes to `on_mmio` in order; a read's answer lands in the fragment's bytes.
// Stops after an exit the VMM cannot re-enter from.
[[nodiscard]] GuestAccessResult replay_mmio_exits(GuestAccessResult r, const VcpuAccess& access, const MmioExitFn& on_mmio);

}  // namespace kvmsim::vmm
