// The model backend's arm64 side: builds the arm64 VM a scenario asks for and runs the steps
// whose arm64 meaning differs from x86 (guest accesses through stage 2, the lock RFC's cap
// number, KVM_CREATE_VM type words, vCPU init and busy vCPUs, RLIMIT_MEMLOCK).
#pragma once

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "arm64_stage1_steps.h"
#include "fields.h"
#include "model/arm64/arm64_arch.h"
#include "model/kvm/kvm.h"
#include "scenario.h"

namespace kvmsim::sim {

// KVM_CREATE_VM for the scenario's vm object; throws ScenarioError (a setup error) when the
// kernel would refuse it.
// `host` is the description of the machine compared with (its CPU features), vm.host applied.
std::unique_ptr<Arm64Arch> make_arm64_arch(const Scenario& scenario, const Profile& profile, HostMm& mm, const HostDescription& host);

class Arm64Steps {
public:
    Arm64Steps(kvm& vm, Arm64Arch& arch) : vm_(vm), arch_(arch) {}
    // The step's outcome, or nullopt when the generic backend runs it unchanged.
    std::optional<nlohmann::json> dispatch(const Step& step, const StepFields& f);

private:
    nlohmann::json guest_access(const Step& step, const StepFields& f);
    nlohmann::json guest_at(const Step& step, const StepFields& f);
    [[nodiscard]] Cap resolve_cap(const StepFields& f) const;
    kvm& vm_;
    Arm64Arch& arch_;
    Arm64Stage1Steps stage1_;
};

}  // namespace kvmsim::sim
