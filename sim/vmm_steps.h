// Scenario steps for the VMM layer (model/vmm): kvmtool's bank list, its MMIO devices and the
// vCPU loop that runs a guest access through exits to completion. docs/scenarios.md, "VMM steps".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "model/host/host_mm.h"
#include "model/kvm/kvm.h"
#include "model/vmm/vmm.h"
#include "model/x86/platform.h"
#include "scenario.h"

namespace kvmsim {
class Arm64Arch;  // model/arm64/arm64_arch.h: not included here, its names clash with <linux/kvm.h>
}

namespace kvmsim::sim {

[[nodiscard]] bool is_vmm_op(std::string_view op);
// Field contents the generic table cannot check: type names, mapping policies, sizes.
void check_vmm_step(const StepFields& f, const std::string& op);
// The shape of a VMM step's expectation.
void check_vmm_expect(const nlohmann::json& e, const std::string& path);

namespace vmm_detail {
class Session;
}

// What the VMM steps need from the backend that runs them: the VMM's two outside interfaces,
// KVM_RUN on a vCPU, and the kernel's memslot table for the outcome.
class VmmHost {
public:
    virtual ~VmmHost() = default;
    [[nodiscard]] virtual vmm::VmIoctls& ioctls() = 0;
    [[nodiscard]] virtual vmm::VmmMemory& memory() = 0;
    // KVM_RUN on vCPU `id` for the VMM's loop; nullopt when the VM has no such vCPU.
    [[nodiscard]] virtual std::optional<vmm::KvmRun> vcpu_run(std::uint32_t id) = 0;
    // The memslots of address space 0 in id order, each {slot, guest_phys_addr, memory_size,
    // userspace_addr, flags}, at the scenario's addresses.
    [[nodiscard]] virtual nlohmann::json memslots() const = 0;
    // The kvmtool build that runs: arm and riscv route MMIO exits below 64 KiB to port I/O.
    [[nodiscard]] virtual vmm::VmmArch arch() const { return vmm::VmmArch::X86_64; }
};

// The kernel model's memslot table of address space 0, in the form VmmHost::memslots() gives.
[[nodiscard]] nlohmann::json model_memslots(kvm& vm);
// The VMM's outside world as the arm64 kernel model (sim/vmm_arm64_host.cpp).
[[nodiscard]] std::unique_ptr<VmmHost> make_arm64_model_vmm_host(kvm& vm, HostMm& mm, Arm64Arch& arch);

// One VMM per VM, created with the VM and driven by the VMM steps.
class VmmSteps {
public:
    // Over the kernel model.
    VmmSteps(kvm& vm, HostMm& mm, Platform platform);
    // Over another kernel, e.g. the real one (sim/kvm/vmm_host.h).
    explicit VmmSteps(std::unique_ptr<VmmHost> host);
    ~VmmSteps();
    nlohmann::json run(const Step& step, const StepFields& f);

private:
    std::unique_ptr<vmm_detail::Session> s_;
};

}  // namespace kvmsim::sim
