// The runner drives a backend through this interface, so one parsed scenario runs unchanged on
// the model or on another implementation, and comparison is written once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/trace.h"
#include "scenario.h"

namespace kvmsim::sim {

struct RunConfig {
    std::string profile;               // kernel profile name
    std::vector<std::string> apply;    // patches toggled on top of it
    std::vector<std::string> revert;
    bool trace = false;
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
};

std::unique_ptr<Backend> make_model_backend();

}  // namespace kvmsim::sim
