#include "results.h"

namespace kvmsim::cli {

FileResult run_result(const std::string& file, const sim::Scenario& s, const std::vector<sim::KernelRun>& runs, const std::vector<std::string>& notes) {
    FileResult f;
    f.file = file;
    f.name = s.name;
    f.notes = notes;
    const bool many = runs.size() > 1;
    for (const auto& run : runs) {
        const std::string on = many ? " [" + run.profile + "]" : "";
        if (run.setup_error) {
            CaseResult c;
            c.name = "setup" + on;
            c.status = Status::Fail;
            c.checked = true;
            c.reason = *run.setup_error;
            c.detail = {{"kernel", run.profile}};
            f.cases.push_back(c);
        }
        for (const auto& st : run.steps) {
            CaseResult c;
            c.name = "step " + std::to_string(st.step->index) + " " + st.step->op + on;
            c.detail = {{"kernel", run.profile}, {"step", st.step->index}, {"op", st.step->op}};
            if (!st.expected.is_null()) c.detail["expected"] = sim::hexify(st.expected);
            if (!st.actual.is_null()) c.detail["actual"] = sim::hexify(st.actual);
            if (st.skipped) {
                c.status = Status::Skip;
                c.reason = st.skip_reason;
            } else if (st.bad_input) {
                c.status = Status::Invalid;
                c.checked = true;
                c.reason = st.difference.value_or("bad step");
            } else if (st.difference) {
                c.status = Status::Fail;
                c.checked = true;
                c.reason = *st.difference;
                c.diag.push_back("expected: " + sim::render(st.expected));
                c.diag.push_back("actual:   " + sim::render(st.actual));
            } else {
                c.checked = !st.expected.is_null();
            }
            f.cases.push_back(c);
        }
    }
    return f;
}

FileResult diff_result(const std::string& file, const std::string& name, const sim::DiffReport& d, const std::string& other_side) {
    FileResult f;
    f.file = file;
    f.name = name;
    f.notes = d.notes;
    f.detail = {{"compared", d.compared}, {"skipped_steps", d.skipped}};
    for (const auto& x : d.disagreements) {
        CaseResult c;
        c.name = (x.step ? "step " + std::to_string(x.step->index) + " " + x.step->op : std::string("setup")) + (x.profile.empty() ? "" : " [" + x.profile + "]");
        c.status = Status::Fail;
        c.checked = true;
        c.reason = "model " + sim::render(x.model) + " | " + other_side + " " + sim::render(x.kernel);
        c.detail = {{"kernel", x.profile}, {"model", sim::hexify(x.model)}, {other_side, sim::hexify(x.kernel)}};
        if (!x.toggles.empty()) {
            std::string t;
            for (const auto& n : x.toggles) t += (t.empty() ? "" : ", ") + n;
            c.reason += "  (the model agrees with toggle " + t + ")";
            c.detail["toggles"] = x.toggles;
        }
        if (x.step) c.detail["step"] = x.step->index;
        f.cases.push_back(c);
    }
    if (d.compared > d.disagreements.size()) {
        CaseResult c;
        c.name = std::to_string(d.compared - d.disagreements.size()) + " steps agree";
        c.checked = true;
        f.cases.push_back(c);
    }
    for (const auto& [why, n] : d.skip_reasons) {
        CaseResult c;
        c.name = std::to_string(n) + " steps skipped";
        c.status = Status::Skip;
        c.reason = why;
        f.cases.push_back(c);
    }
    return f;
}

}  // namespace kvmsim::cli
