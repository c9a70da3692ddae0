// Runs a scenario against a backend for each of its kernels and compares every outcome.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "backend.h"
#include "scenario.h"

namespace kvmsim::sim {

struct StepReport {
    const Step* step = nullptr;
    nlohmann::json expected;  // null when the step has no expectation
    nlohmann::json actual;
    std::optional<std::string> difference;  // set when the expectation did not hold
    bool skipped = false;
    std::string skip_reason;
    bool bad_input = false;  // the step itself is wrong (difference says how), not the kernel
    std::vector<TraceEvent> trace;
};

struct KernelRun {
    std::string profile;
    std::vector<StepReport> steps;
    std::optional<std::string> setup_error;
    [[nodiscard]] std::size_t failures() const;
};

struct RunOptions {
    std::optional<std::string> kernel;  // overrides the scenario's kernels
    std::vector<std::string> apply;
    std::vector<std::string> revert;
    bool trace = false;
    std::optional<std::string> platform;  // see RunConfig::platform
    std::optional<HostDescription> host;  // see RunConfig::host
};

std::vector<KernelRun> run_scenario(const Scenario& s, Backend& backend, const RunOptions& options);

// Compares an expectation with an outcome; fields the expectation leaves out are not checked.
std::optional<std::string> compare(const nlohmann::json& expected, const nlohmann::json& actual);
// Renders an outcome with addresses and data in hex, for reports.
std::string render(const nlohmann::json& v);
// The same outcome as JSON with addresses and data as "0x..." strings, counts as integers.
nlohmann::json hexify(const nlohmann::json& v);

}  // namespace kvmsim::sim
