// Scenario values: numbers written as JSON integers, hex, decimal or sizes ("4K", "2M"), and host
// addresses that may name a mapping ("rom+0x10"). Every error names the JSON path.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/trace.h"

namespace kvmsim::sim {

// Bad scenario input: file, JSON path and what was expected.
class ScenarioError : public std::runtime_error {
public:
    ScenarioError(const std::string& path, const std::string& what)
        : std::runtime_error((path.empty() ? std::string("(document)") : path) + ": " + what), path_(path) {}
    [[nodiscard]] const std::string& path() const { return path_; }

private:
    std::string path_;
};

// A step the model has no answer for under the profile it runs as (it models another kernel's
// answer only). Not the file's fault and not an outcome: the runner reports the step as skipped,
// with this reason, so a comparison counts it as a skip, never as a result.
class NotModelled : public ScenarioError {
public:
    NotModelled(const std::string& why) : ScenarioError("", why), why_(why) {}
    [[nodiscard]] const std::string& why() const { return why_; }

private:
    std::string why_;
};

// Every problem found in one file (parse_scenario goes on past a bad step); what() and path()
// are the first one's, so a caller that wants one error still gets it.
class ScenarioErrors : public ScenarioError {
public:
    explicit ScenarioErrors(std::vector<ScenarioError> all)
        : ScenarioError(all.front().path(), first_message(all)), all_(std::move(all)) {}
    [[nodiscard]] const std::vector<ScenarioError>& all() const { return all_; }

private:
    static std::string first_message(const std::vector<ScenarioError>& all) {
        const std::string w = all.front().what();
        const std::size_t skip = (all.front().path().empty() ? std::string("(document)") : all.front().path()).size() + 2;
        return w.substr(std::min(skip, w.size())) + " (and " + std::to_string(all.size() - 1) + " more; kvmsim validate lists them all)";
    }
    std::vector<ScenarioError> all_;
};

// Parses a number that must fit in max (u32: 0xffffffff, u64: ~0).
std::uint64_t parse_number(const nlohmann::json& v, const std::string& path, std::uint64_t max = ~std::uint64_t{0});
// Parses "name", "name+off" or a number, with names resolved in `names`.
std::uint64_t parse_hva(const nlohmann::json& v, const std::string& path, const std::map<std::string, std::uint64_t>& names);

}  // namespace kvmsim::sim
