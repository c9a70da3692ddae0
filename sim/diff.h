// Runs one scenario on two backends (the model and the real kernel) and pairs their outcomes
// step by step: which agree, which differ, and which one side could not run and why.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner.h"

namespace kvmsim::sim {

struct StepDisagreement {
    std::string profile;
    const Step* step = nullptr;  // null for a disagreement at setup
    nlohmann::json model;
    nlohmann::json kernel;
    std::vector<std::string> toggles;  // "+name"/"-name": flipping it makes the model agree (diff_toggles.h)
};

struct DiffReport {
    std::size_t compared = 0;
    std::size_t skipped = 0;
    std::map<std::string, std::size_t> skip_reasons;  // reason -> steps
    std::vector<StepDisagreement> disagreements;
    std::vector<std::string> notes;
    void add(const DiffReport& other);
};

// A step's outcome as diff_scenario() compares it: its step error where it has no outcome, and
// the model's stage2_fault only where the kernel's outcome has one (userspace cannot see it).
[[nodiscard]] nlohmann::json comparable_outcome(const StepReport& r, const nlohmann::json& other);

// The model runs on `model_platform` whatever the scenario names: the platform of the machine
// whose kernel is the other side, described by `host` (the scenario's vm.host pins apply over it).
// `profile` runs both sides as that profile instead of the scenario's (the booted kernel's).
DiffReport diff_scenario(const Scenario& s, Backend& model, Backend& kernel, const std::string& model_platform,
                         const std::optional<HostDescription>& host = std::nullopt, const std::optional<std::string>& profile = std::nullopt);

}  // namespace kvmsim::sim
