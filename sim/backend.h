// The runner drives a backend through this interface, so one parsed scenario runs unchanged on
// the model or on another implementation, and comparison is written once.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/host/host_description.h"
#include "model/trace.h"
#include "scenario.h"

namespace kvmsim::sim {

struct RunConfig {
    std::string profile;               // kernel profile name
    std::vector<std::string> apply;    // patches toggled on top of it
    std::vector<std::string> revert;
    bool trace = false;
    // Runs the model on this platform instead of the scenario's (the host's, when comparing
    // with the real kernel).
    std::optional<std::string> platform;
    // The host description of the machine compared with (probed by the kvm backend); the
    // scenario's vm.host pins apply over it. Unset: the documented defaults.
    std::optional<HostDescription> host;
};

struct StepResult {
    nlohmann::json actual;  // the outcome in the scenario's vocabulary
    bool skipped = false;
    std::string skip_reason;
    std::vector<TraceEvent> trace;
};

class Backend {
public:
    virtual ~Backend() = default;
    [[nodiscard]] virtual std::string name() const = 0;
    // Sets up the VM and host mappings; throws ScenarioError if the setup itself is refused.
    virtual void start(const Scenario& scenario, const RunConfig& config) = 0;
    virtual StepResult run(const Step& step) = 0;
    // What the user should know about the last start(): relocations, platform differences.
    [[nodiscard]] virtual std::vector<std::string> notes() const { return {}; }
};

std::unique_ptr<Backend> make_model_backend();
// The real /dev/kvm of this machine (x86_64); every step is skipped, with the reason, where it
// cannot be used or cannot reproduce the scenario (another profile, arm64, pfnmap mappings).
std::unique_ptr<Backend> make_kvm_backend();
// The model with patch toggles applied or reverted on top of whatever the run asks for.
std::unique_ptr<Backend> make_toggled_model_backend(std::vector<std::string> apply, std::vector<std::string> revert);

}  // namespace kvmsim::sim
