// libFuzzer target: bytes as a scenario file through the parser and validator, and, when they
// pass, through the model (in a debug build the invariant checker runs after every step).
// Bad input must end in ScenarioError; anything else escaping is a bug (libFuzzer reports it).
#include <cstddef>
#include <cstdint>
#include <string>

#include "sim/backend.h"
#include "sim/runner.h"
#include "sim/scenario.h"

using namespace kvmsim::sim;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    Scenario s;
    try {
        s = load_scenario_text(text, "fuzz.json");
    } catch (const ScenarioError&) {
        return 0;
    }
    // Keep each input cheap: the hostile-input tests cover long runs.
    if (s.steps.size() * s.kernels.size() > 256) return -1;
    auto backend = make_model_backend();
    (void)run_scenario(s, *backend, RunOptions{});
    return 0;
}
