#include "diff.h"

#include <algorithm>
#include <stdexcept>

namespace kvmsim::sim {
namespace {

nlohmann::json outcome(const StepReport& r) {
    if (r.difference && r.actual.is_null()) return {{"step_error", *r.difference}};
    return r.actual;
}

void skip(DiffReport& d, const std::string& reason, std::size_t steps) {
    d.skipped += steps;
    d.skip_reasons[reason] += steps;
}

}  // namespace

nlohmann::json comparable_outcome(const StepReport& r, const nlohmann::json& other) {
    nlohmann::json o = outcome(r);
    // Whether KVM took a stage-2 fault is the model's account of an access; userspace cannot
    // see it, so a real kernel's outcome has no such key.
    if (o.is_object() && other.is_object() && !other.contains("stage2_fault")) o.erase("stage2_fault");
    return o;
}

void DiffReport::add(const DiffReport& o) {
    compared += o.compared;
    skipped += o.skipped;
    for (const auto& [r, n] : o.skip_reasons) skip_reasons[r] += n;
    disagreements.insert(disagreements.end(), o.disagreements.begin(), o.disagreements.end());
    notes.insert(notes.end(), o.notes.begin(), o.notes.end());
}

DiffReport diff_scenario(const Scenario& s, Backend& model, Backend& kernel, const std::string& model_platform,
                         const std::optional<HostDescription>& host, const std::optional<std::string>& profile) {
    DiffReport d;
    RunOptions mo;
    mo.platform = model_platform;
    mo.host = host;
    mo.kernel = profile;
    // A broken invariant inside either side (a model bug) is a disagreement to report and
    // shrink like any other, not the end of a differential run.
    std::vector<KernelRun> mruns, kruns;
    try {
        mruns = run_scenario(s, model, mo);
    } catch (const std::logic_error& e) {
        d.disagreements.push_back({"", nullptr, {{"internal_error", e.what()}}, "not run", {}});
        return d;
    }
    try {
        kruns = run_scenario(s, kernel, mo);
    } catch (const std::logic_error& e) {
        d.disagreements.push_back({"", nullptr, "run", {{"internal_error", e.what()}}, {}});
        return d;
    }
    d.notes = kernel.notes();
    for (std::size_t k = 0; k < mruns.size() && k < kruns.size(); ++k) {
        const KernelRun& m = mruns[k];
        const KernelRun& r = kruns[k];
        const bool kernel_skipped_all = !r.steps.empty() && std::all_of(r.steps.begin(), r.steps.end(), [](const StepReport& x) { return x.skipped; });
        if (m.setup_error || r.setup_error) {
            if (m.setup_error && r.setup_error) continue;  // both refuse the VM: they agree
            if (kernel_skipped_all) {
                skip(d, r.steps.front().skip_reason, s.steps.size());
                continue;
            }
            d.disagreements.push_back({m.profile, nullptr, m.setup_error ? nlohmann::json{{"setup_error", *m.setup_error}} : nlohmann::json("set up"),
                                       r.setup_error ? nlohmann::json{{"setup_error", *r.setup_error}} : nlohmann::json("set up"), {}});
            continue;
        }
        for (std::size_t i = 0; i < m.steps.size() && i < r.steps.size(); ++i) {
            const StepReport& ms = m.steps[i];
            const StepReport& ks = r.steps[i];
            if (ks.skipped || ms.skipped) {
                skip(d, ks.skipped ? ks.skip_reason : ms.skip_reason, 1);
                continue;
            }
            ++d.compared;
            const nlohmann::json ko_json = outcome(ks);
            const nlohmann::json mo_json = comparable_outcome(ms, ko_json);
            if (mo_json != ko_json) d.disagreements.push_back({m.profile, ms.step, mo_json, ko_json, {}});
        }
    }
    return d;
}

}  // namespace kvmsim::sim
