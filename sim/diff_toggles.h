// Which patch toggle accounts for a disagreement between the model and a real kernel: the toggle
// whose flip makes the model give the kernel's outcome at that step. A patched kernel compared
// without --apply then shows the steps its patch changes, each named after the toggle that models it.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "diff.h"

namespace kvmsim::sim {

// For each disagreement at a step, tries every upstream toggle of the scenario's arch: applied
// where the model's profile (with the scenario's and the caller's apply/revert) lacks it, reverted
// where it has it. Only the model reruns. Each toggle that makes the model's outcome of that step
// equal the kernel's is added to the disagreement's `toggles` as "+name" or "-name".
void name_toggles(const Scenario& s, DiffReport& d, const std::vector<std::string>& apply, const std::vector<std::string>& revert,
                  const std::string& model_platform, const std::optional<HostDescription>& host, const std::optional<std::string>& profile);

}  // namespace kvmsim::sim
