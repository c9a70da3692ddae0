// The arm64 data instructions that are more than one load or store (guest_cas; guest_dc with
// "DC CIVAC" or "DC ZVA"; guest_at with "AT S1E1R"): how a step names them and how PAR_EL1 is
// reported. Shared by the model backend (sim/arm64_steps.cpp) and the kvm backend's arm64 guest,
// so both read a step the same way.
#pragma once

#include <cstdint>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "scenario.h"

namespace kvmsim::sim {

enum class DataInsn { LoadStore, DcCivac, DcZva, Cas, AtS1e1r };

// The instruction a guest access step makes (its op, and "insn" where the op has one).
[[nodiscard]] DataInsn data_insn(const Step& step, const StepFields& f);

// Load-time checks: the "insn" names, the access size of a CAS, and "gva" for the instructions
// that run with the MMU on only (with it off every access is to Device memory, where DC ZVA is
// an alignment fault and an atomic IMPLEMENTATION DEFINED).
void check_arm64_insn_step(const Step& step, const StepFields& f);

// PAR_EL1 as an outcome: {"f": 0, "pa": ...} or {"f": 1, "fst": ...} (ATTR and SH, which MAIR_EL1
// and the implementation decide, are left out).
[[nodiscard]] nlohmann::json par_json(bool f, std::uint64_t pa_or_fst);
// The same from the register's raw value (the kvm backend's guest reads it).
[[nodiscard]] nlohmann::json par_json_from_raw(std::uint64_t par);
// An expectation's "par" object; throws ScenarioError naming the path.
void check_par_expect(const nlohmann::json& e, const std::string& path);

}  // namespace kvmsim::sim
