// Scenario values: numbers written as JSON integers, hex, decimal or sizes ("4K", "2M"), and host
// addresses that may name a mapping ("rom+0x10"). Every error names the JSON path.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

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

// Parses a number that must fit in max (u32: 0xffffffff, u64: ~0).
std::uint64_t parse_number(const nlohmann::json& v, const std::string& path, std::uint64_t max = ~std::uint64_t{0});
// Parses "name", "name+off" or a number, with names resolved in `names`.
std::uint64_t parse_hva(const nlohmann::json& v, const std::string& path, const std::map<std::string, std::uint64_t>& names);

}  // namespace kvmsim::sim
