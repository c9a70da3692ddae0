// Helpers for tests of scenario parsing: where a document is refused.
#pragma once

#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "sim/scenario.h"

namespace kvmsim::test {

// The JSON path of the error that refuses `doc`; a test failure if it is accepted.
inline std::string error_path(const nlohmann::json& doc) {
    try {
        (void)sim::parse_scenario(doc, "test.json");
    } catch (const sim::ScenarioError& e) {
        INFO(e.what());
        return e.path();
    }
    FAIL("parse_scenario accepted " << doc.dump().substr(0, 300));
    return "<accepted>";
}

}  // namespace kvmsim::test
