// A scenario's "requires": CPU features its outcome depends on, the way the kernel's selftests
// skip a test the CPU cannot run (page_fault_test skips its with_af tests without FEAT_HAFDBS,
// guest_cas without LSE, guest_dc_zva when DCZID_EL0.DZP = 1). Whether a feature is there is a
// field of the host description of the machine compared with (model/host/host_description.h):
// read from the vCPU's ID registers on a real kernel, the platform's (present) on the model
// unless the scenario's vm.host removes it. A missing one skips every step with the reason.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/host/host_description.h"

namespace kvmsim::sim {

enum class CpuFeature { Hafdbs, Lse, DcZva };

// "hafdbs", "lse", "dc_zva": the names a scenario writes.
[[nodiscard]] std::string_view to_string(CpuFeature f);
[[nodiscard]] std::optional<CpuFeature> cpu_feature_from_string(std::string_view name);
// Whether a host has it (an unset field: the platform's, present).
[[nodiscard]] bool has_feature(const HostDescription& host, CpuFeature f);

// "hafdbs 1, lse 1, dc_zva 1 (DC ZVA block 64 bytes)": the CPU features of a host, for banners.
[[nodiscard]] std::string describe_cpu_features(const HostDescription& host);

// Reads "requires" (a list of feature names, each once) of an `arch` scenario; throws
// ScenarioError naming the entry's JSON path and what it takes.
[[nodiscard]] std::vector<CpuFeature> parse_requires(const nlohmann::json& list, const std::string& path, const std::string& arch);

// Why a machine described by `host` cannot run a scenario that requires `features`: the first
// missing feature, in the words of the ID register field that says so; nullopt when all are there.
[[nodiscard]] std::optional<std::string> unmet_requirement(const std::vector<CpuFeature>& features, const HostDescription& host);

}  // namespace kvmsim::sim
