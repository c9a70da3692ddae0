// A guest access's outcome in the scenario vocabulary, written once for every backend so the
// model and the real kernel are compared in the same words.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "model/kvm/caps.h"
#include "model/kvm/run.h"
#include "model/result.h"

namespace kvmsim::sim {

// An ioctl's result in the scenario's words: its value, or the errno's name.
nlohmann::json result_json(const KvmResult& r);

// KVM_CHECK_EXTENSION's answer in the scenario's words (a negative value is -errno). nullopt:
// the model has no answer for this profile, which throws ScenarioError at `path`.
nlohmann::json cap_answer(const std::optional<long>& answer, Cap cap, const std::string& profile, const std::string& path);

// How an exception the guest takes is written: x86 {vector, error_code, cr2}; arm64 {vector
// (ESR_ELx.EC of the injected abort), far}.
enum class ExceptionStyle { X86, Arm64 };

nlohmann::json event_json(const VcpuEvent& e, ExceptionStyle style = ExceptionStyle::X86);
// The first event that is not plain completion, plus the data of a completed access.
nlohmann::json guest_access_json(const GuestAccessResult& r, bool is_write, std::uint64_t written);

}  // namespace kvmsim::sim
