#include "wire.h"

#include <set>

namespace kvmsim::sim::wire {
namespace {

// TraceEvent names its function by a string_view into static storage; names read from the guest
// are kept here (the kernel's function names are a small fixed set; more than 4096 is garbage).
std::string_view intern(const std::string& name) {
    static std::set<std::string, std::less<>> names;
    if (auto it = names.find(name); it != names.end()) return *it;
    if (names.size() >= 4096) return "(trace)";
    return *names.insert(name).first;
}

}  // namespace

nlohmann::json to_json(const RunConfig& c) {
    nlohmann::json j = {{"profile", c.profile}, {"apply", c.apply}, {"revert", c.revert}, {"trace", c.trace}};
    if (c.platform) j["platform"] = *c.platform;
    return j;
}

RunConfig run_config(const nlohmann::json& j) {
    RunConfig c;
    c.profile = j.at("profile").get<std::string>();
    c.apply = j.at("apply").get<std::vector<std::string>>();
    c.revert = j.at("revert").get<std::vector<std::string>>();
    c.trace = j.at("trace").get<bool>();
    if (j.contains("platform")) c.platform = j["platform"].get<std::string>();
    return c;
}

nlohmann::json to_json(const StepResult& r) {
    nlohmann::json trace = nlohmann::json::array();
    for (const auto& e : r.trace) trace.push_back({std::string(e.function), e.detail});
    nlohmann::json j = {{"actual", r.actual}, {"trace", trace}};
    if (r.skipped) j["skipped"] = r.skip_reason;
    return j;
}

StepResult step_result(const nlohmann::json& j) {
    StepResult r;
    r.actual = j.at("actual");
    if (j.contains("skipped")) {
        r.skipped = true;
        r.skip_reason = j["skipped"].get<std::string>();
    }
    for (const auto& e : j.at("trace")) r.trace.push_back(TraceEvent{intern(e.at(0).get<std::string>()), e.at(1).get<std::string>()});
    return r;
}

}  // namespace kvmsim::sim::wire
