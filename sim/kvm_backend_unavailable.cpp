// The kvm backend where kvmsim is built without <linux/kvm.h> or not for x86_64.
#include "backend.h"
#include "kvm/host_platform.h"

namespace kvmsim::sim {
namespace {

class UnavailableKvmBackend final : public Backend {
public:
    [[nodiscard]] std::string name() const override { return "kvm"; }
    void start(const Scenario&, const RunConfig&) override {}
    StepResult run(const Step&) override {
        StepResult r;
        r.skipped = true;
        r.skip_reason = "kvmsim was built without the real-KVM backend (needs Linux x86_64 and <linux/kvm.h>)";
        return r;
    }
};

}  // namespace

namespace kvmhost {
HostKvm probe_host_kvm() {
    HostKvm h;
    h.why_not = "kvmsim was built without the real-KVM backend (needs Linux x86_64 and <linux/kvm.h>)";
    return h;
}
}  // namespace kvmhost

std::unique_ptr<Backend> make_kvm_backend() { return std::make_unique<UnavailableKvmBackend>(); }

}  // namespace kvmsim::sim
