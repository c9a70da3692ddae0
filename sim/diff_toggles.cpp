#include "diff_toggles.h"

#include <stdexcept>

#include "backend.h"
#include "model/profile/profile.h"

namespace kvmsim::sim {
namespace {

bool profile_has(const Scenario& s, const std::string& profile, const std::vector<std::string>& apply, const std::vector<std::string>& revert, Patch p) {
    std::optional<Profile> prof = find_profile(profile);
    if (!prof) return false;
    for (const auto* list : {&s.apply, &apply})
        for (const auto& n : *list)
            if (auto q = patch_from_name(n)) prof->apply(*q);
    for (const auto* list : {&s.revert, &revert})
        for (const auto& n : *list)
            if (auto q = patch_from_name(n)) prof->revert(*q);
    return prof->has(p);
}

}  // namespace

void name_toggles(const Scenario& s, DiffReport& d, const std::vector<std::string>& apply, const std::vector<std::string>& revert,
                  const std::string& model_platform, const std::optional<HostDescription>& host, const std::optional<std::string>& profile) {
    bool any = false;
    for (const auto& x : d.disagreements) any = any || x.step;
    if (!any) return;
    RunOptions mo;
    mo.platform = model_platform;
    mo.host = host;
    mo.kernel = profile;
    for (const PatchInfo& p : all_patches()) {
        if (!p.series.empty() || (p.arch != "any" && p.arch != s.arch)) continue;
        // Whether the flip is an apply or a revert depends on the profile, which is per run.
        for (const bool flip_on : {true, false}) {
            std::vector<std::string> a = apply, r = revert;
            (flip_on ? a : r).emplace_back(p.name);
            std::vector<KernelRun> runs;
            try {
                runs = run_scenario(s, *make_toggled_model_backend(a, r), mo);
            } catch (const std::exception&) {
                continue;  // the toggle breaks the model on this scenario: it explains nothing
            }
            for (auto& x : d.disagreements) {
                if (!x.step || profile_has(s, x.profile, apply, revert, p.patch) == flip_on) continue;
                for (const KernelRun& run : runs) {
                    if (run.profile != x.profile || run.setup_error) continue;
                    for (const StepReport& st : run.steps)
                        if (st.step == x.step && !st.skipped && comparable_outcome(st, x.kernel) == x.kernel)
                            x.toggles.push_back(std::string(flip_on ? "+" : "-") + std::string(p.name));
                }
            }
        }
    }
}

}  // namespace kvmsim::sim
