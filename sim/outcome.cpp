#include "outcome.h"

#include <cstring>

#include "model/errno.h"
#include "scenario.h"

namespace kvmsim::sim {

nlohmann::json result_json(const KvmResult& r) {
    if (r.is_ok()) return r.value();
    return std::string(to_string(*r.err()));
}

nlohmann::json cap_answer(const std::optional<long>& answer, Cap cap, const std::string& profile, const std::string& /*path*/) {
    if (!answer)
        throw NotModelled(std::string(to_string(cap)) + " on " + profile + ": the model gives Linux 6.18's answer only, and profiles before 6.8 have no modelled answer");
    if (*answer < 0)
        if (auto e = errno_from_value(static_cast<int>(-*answer))) return std::string(to_string(*e));
    return *answer;
}

nlohmann::json event_json(const VcpuEvent& e, ExceptionStyle style) {
    nlohmann::json j;
    switch (e.kind) {
    case VcpuEvent::Kind::Exit:
        j["exit"] = std::string(to_string(e.exit));
        if (e.exit == Exit::Mmio) {
            nlohmann::json m = {{"phys_addr", e.mmio.phys_addr.value()}, {"len", e.mmio.len}, {"is_write", e.mmio.is_write}};
            if (e.mmio.is_write) {
                std::uint64_t d = 0;
                std::memcpy(&d, e.mmio.data.data(), std::min<std::size_t>(e.mmio.len, 8));
                m["data"] = d;
            }
            j["mmio"] = m;
        }
        if (e.exit == Exit::ArmNisv) j["arm_nisv"] = {{"esr_iss", e.arm_nisv.esr_iss}, {"fault_ipa", e.arm_nisv.fault_ipa}};
        break;
    case VcpuEvent::Kind::RunError:
        j["errno"] = std::string(to_string(e.error));
        if (e.memory_fault) {
            j["exit"] = "KVM_EXIT_MEMORY_FAULT";
            j["memory_fault"] = {{"gpa", e.memory_fault->gpa.value()}, {"size", e.memory_fault->size}, {"flags", e.memory_fault->flags}};
        }
        break;
    case VcpuEvent::Kind::Signal:
        j["signal"] = std::string(to_string(e.signal));
        j["hva"] = e.signal_addr.value();
        break;
    case VcpuEvent::Kind::Exception:
        // arm64: ESR_EL1's EC as the vector, its FSC (ISS bits 5:0: which fault, at which level).
        if (style == ExceptionStyle::Arm64) j["exception"] = {{"vector", e.exception.vector}, {"fsc", e.exception.error_code & 0x3f}, {"far", e.exception.cr2}};
        else j["exception"] = {{"vector", e.exception.vector}, {"error_code", e.exception.error_code}, {"cr2", e.exception.cr2}};
        break;
    }
    return j;
}

nlohmann::json guest_access_json(const GuestAccessResult& r, bool is_write, std::uint64_t written) {
    nlohmann::json j = r.events.empty() ? nlohmann::json::object() : event_json(r.events.front());
    if (r.completed && !is_write) j["data"] = r.data;
    if (r.completed && r.events.empty() && is_write) j["data"] = written;
    return j;
}

}  // namespace kvmsim::sim
