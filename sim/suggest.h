// "did you mean" for misspelt keys, ops, capabilities and profile names.
#pragma once

#include <string>
#include <vector>

namespace kvmsim::sim {

// The closest candidate within a few edits (case-insensitive), or "" when none is close.
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates);
// " (did you mean \"x\"?)" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace kvmsim::sim
