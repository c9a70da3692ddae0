// The VMM steps' outside world on the arm64 kernel model: the same VM fd and memory bindings
// as on x86 (model/vmm/model_host.h), KVM_RUN through the arm64 abort path, and kvmtool's arm
// build (its I/O window below 64 KiB).
#include "model/vmm/arm64_model_host.h"
#include "model/vmm/model_host.h"
#include "vmm_steps.h"

namespace kvmsim::sim {
namespace {

class Arm64ModelHost final : public VmmHost {
public:
    Arm64ModelHost(kvm& vm, HostMm& mm, Arm64Arch& arch) : kvm_(vm), arch_(arch), ioctls_(vm), memory_(vm, mm) {}
    vmm::VmIoctls& ioctls() override { return ioctls_; }
    vmm::VmmMemory& memory() override { return memory_; }
    std::optional<vmm::KvmRun> vcpu_run(std::uint32_t id) override {
        kvm_vcpu* vcpu = kvm_.vcpu(id);
        if (!vcpu) return std::nullopt;
        return vmm::model_arm64_kvm_run(kvm_, arch_, *vcpu);
    }
    nlohmann::json memslots() const override { return model_memslots(kvm_); }
    vmm::VmmArch arch() const override { return vmm::VmmArch::Arm64; }

private:
    kvm& kvm_;
    Arm64Arch& arch_;
    vmm::ModelVmIoctls ioctls_;
    vmm::ModelVmmMemory memory_;
};

}  // namespace

std::unique_ptr<VmmHost> make_arm64_model_vmm_host(kvm& vm, HostMm& mm, Arm64Arch& arch) { return std::make_unique<Arm64ModelHost>(vm, mm, arch); }

}  // namespace kvmsim::sim
