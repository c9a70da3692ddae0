// Turns what the engine hands back (KernelRun, DiffReport) into report FileResults. Every
// backend's runs come through here the same way, so a new backend needs no output code.
#pragma once

#include <string>
#include <vector>

#include "report.h"
#include "sim/diff.h"
#include "sim/runner.h"

namespace kvmsim::cli {

// One case per step and kernel: pass (checked when it had an expectation), fail, skip, or
// invalid when the step itself could not be run as written.
FileResult run_result(const std::string& file, const sim::Scenario& s, const std::vector<sim::KernelRun>& runs, const std::vector<std::string>& notes);

// One failing case per disagreement, one passing case for the steps that agree, one skip case
// per skip reason.
FileResult diff_result(const std::string& file, const std::string& name, const sim::DiffReport& d, const std::string& other_side);

}  // namespace kvmsim::cli
