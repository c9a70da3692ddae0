// Scenario steps for the VMM layer (model/vmm): kvmtool's bank list, its MMIO devices and the
// vCPU loop that runs a guest access through exits to completion. docs/scenarios.md, "VMM steps".
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "model/host/host_mm.h"
#include "model/kvm/kvm.h"
#include "model/vmm/vmm.h"
#include "model/x86/platform.h"
#include "scenario.h"

namespace kvmsim::sim {

[[nodiscard]] bool is_vmm_op(std::string_view op);
// Field contents the generic table cannot check: type names, mapping policies, sizes.
void check_vmm_step(const StepFields& f, const std::string& op);
// The shape of a VMM step's expectation.
void check_vmm_expect(const nlohmann::json& e, const std::string& path);

namespace vmm_detail {
class Session;
}

// One VMM per VM, created with the VM and driven by the VMM steps.
class VmmSteps {
public:
    VmmSteps(kvm& vm, HostMm& mm, Platform platform);
    ~VmmSteps();
    nlohmann::json run(const Step& step, const StepFields& f);

private:
    std::unique_ptr<vmm_detail::Session> s_;
};

}  // namespace kvmsim::sim
