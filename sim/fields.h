// Typed access to a step's fields, shared by validation and execution so both read a field the
// same way and report the same error.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "scenario.h"

namespace kvmsim::sim {

class StepFields {
public:
    StepFields(const Step& step, const Scenario& scenario) : step_(step), scenario_(scenario) {}

    [[nodiscard]] bool has(const char* key) const { return step_.fields.contains(key); }
    [[nodiscard]] bool is_string(const char* key) const { return has(key) && step_.fields.at(key).is_string(); }
    std::uint64_t u64(const char* key) const;
    std::uint64_t u64_or(const char* key, std::uint64_t def) const { return has(key) ? u64(key) : def; }
    std::uint32_t u32(const char* key) const;
    std::uint32_t u32_or(const char* key, std::uint32_t def) const { return has(key) ? u32(key) : def; }
    std::uint64_t hva(const char* key) const;
    bool boolean_or(const char* key, bool def) const;
    std::string string(const char* key) const;
    std::string string_or(const char* key, const std::string& def) const { return has(key) ? string(key) : def; }
    // 1, 2, 4 or 8
    unsigned access_size(const char* key) const;
    // little-endian data that fits `size` bytes
    std::uint64_t data(const char* key, unsigned size) const;
    std::uint32_t memslot_flags(const char* key) const;
    std::uint32_t cap(const char* key) const;
    // Each arg is a number, a constant's name, or a list of names OR-ed together.
    std::array<std::uint64_t, 4> args(const char* key) const;
    // KVM_ENABLE_CAP flags: a number or a list of flag names.
    std::uint32_t enable_cap_flags(const char* key) const;
    std::uint32_t prot(const char* key) const;  // bit 0 r, 1 w, 2 x
    std::vector<std::string> string_list(const char* key) const;
    std::vector<std::uint64_t> number_list(const char* key) const;

    [[nodiscard]] std::string path(const char* key) const { return step_.path + "/" + key; }

private:
    const nlohmann::json& at(const char* key) const;
    const Step& step_;
    const Scenario& scenario_;
};

std::uint32_t parse_prot(const std::string& prot, const std::string& path);

}  // namespace kvmsim::sim
