#include "limits.h"

#include "fields.h"
#include "paging_steps.h"
#include "scenario.h"

namespace kvmsim::sim {

void check_limits(const Scenario& s) {
    const std::uint64_t kernels = s.kernels.size();
    if (s.steps.size() * kernels > kMaxStepRuns)
        throw ScenarioError("/kernels", std::to_string(s.steps.size()) + " steps on each of " + std::to_string(kernels) + " kernels: at most " +
                                            std::to_string(kMaxStepRuns) + " step runs in all (docs/limits.md)");
    std::uint64_t pages = 0;
    for (const Step& step : s.steps) {
        if (step.op != "build_page_tables") continue;
        const PtBuildSpec spec = parse_page_table_spec(step, StepFields(step, s));
        for (const PtMapping& m : spec.maps)
            if (m.page_size) pages += m.size / m.page_size;
        if (pages * kernels > kMaxPageTablePages)
            throw ScenarioError(step.path + "/map", "build_page_tables steps map more than " + std::to_string(kMaxPageTablePages) +
                                                        " pages in all (over every kernel; docs/limits.md)");
    }
}

}  // namespace kvmsim::sim
