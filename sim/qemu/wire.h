// The line protocol between a host-side qemu backend and `kvmsim serve` in the guest: one JSON
// object per line each way. The host sends {"op":"start",...} or {"op":"run",...}; the guest
// answers each with one line. The guest opens with a hello that says what kernel it runs.
#pragma once

#include <nlohmann/json.hpp>

#include "sim/backend.h"

namespace kvmsim::sim::wire {

nlohmann::json to_json(const RunConfig& c);
RunConfig run_config(const nlohmann::json& j);

nlohmann::json to_json(const StepResult& r);
StepResult step_result(const nlohmann::json& j);

}  // namespace kvmsim::sim::wire
