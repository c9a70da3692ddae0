// A scenario file parsed and checked against the contract (shared/scenario-format.md, docs/scenarios.md).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "host_description.h"
#include "requires.h"

#include "value.h"

namespace kvmsim::sim {

// Bounds on one file (docs/limits.md): a run keeps every step's outcome, and parsing plus running
// must stay within 1 s of CPU and 1 GiB. 65536 steps hold a full 32764-slot table built and torn down.
inline constexpr std::size_t kMaxSteps = 65536;
inline constexpr std::uintmax_t kMaxFileBytes = 8u << 20;

struct Step {
    std::size_t index = 0;
    std::string op;
    std::string path;  // JSON path, "/steps/3"
    nlohmann::json fields;
    std::optional<nlohmann::json> expect;
    std::map<std::string, nlohmann::json> expect_on;

    // The expectation for a profile: expect_on[profile] if present, else expect.
    [[nodiscard]] const nlohmann::json* expectation(const std::string& profile) const;
};

struct HostMapping {
    std::string name;
    std::uint64_t hva = 0;
    std::uint64_t size = 0;
    std::string prot;
    std::vector<std::string> flags;
};

struct Scenario {
    std::string file;
    std::string name;
    std::string description;
    std::string arch = "x86_64";
    std::vector<std::string> kernels;
    std::vector<std::string> apply;
    std::vector<std::string> revert;
    std::string vm_type = "default";
    std::string platform = "vmx";
    bool realm = false;         // arm64: vm.realm
    std::uint32_t ipa_bits = 0; // arm64: vm.ipa_bits (0: the kernel's default)
    HostPins host_pins;         // vm.host
    std::vector<CpuFeature> required_features;  // "requires": CPU features without which every step is skipped
    std::vector<HostMapping> mmaps;
    std::map<std::string, std::uint64_t> names;  // mapping name -> hva, from host.mmap and host_mmap steps
    std::vector<Step> steps;
    nlohmann::json doc;  // the document it was parsed from (sent as is to a backend in another process)
};

// Reads, parses and validates; throws ScenarioError naming file, JSON path and expectation.
Scenario load_scenario(const std::string& file);
// The same for text already read (standard input); `file` names it in errors.
Scenario load_scenario_text(const std::string& text, const std::string& file);
// Takes the document by value: pass an rvalue (std::move) to spare a copy of it.
Scenario parse_scenario(nlohmann::json doc, const std::string& file);

}  // namespace kvmsim::sim
