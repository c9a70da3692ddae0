// kvmsim explain --html: one self-contained page (inline SVG and CSS, no script, no network)
// drawn from a scenario and its runs: the guest-physical map over time, the host mappings each
// slot points into, every access's path, the flash's command state machine, and the steps with
// expected and actual side by side. It reads only the engine's results and traces, so any
// backend's runs draw the same way.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

#include "sim/runner.h"

namespace kvmsim::cli {

void write_explain_html(std::ostream& os, const sim::Scenario& s, const std::vector<sim::KernelRun>& runs, const std::vector<std::string>& notes);

}  // namespace kvmsim::cli
