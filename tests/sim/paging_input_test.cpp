// Guest-paging steps (docs/scenarios.md "Guest paging"): malformed input is refused at load
// time with a ScenarioError naming the JSON path, and an unbuildable page-table spec is a step
// error, never a crash.
#include <doctest/doctest.h>

#include "support/scenario_test.h"
#include "sim/backend.h"
#include "sim/runner.h"
#include "sim/scenario.h"

using namespace kvmsim::sim;
using json = nlohmann::json;

namespace {

json with_steps(const std::vector<json>& extra) {
    json doc = json::parse(R"({"name": "n", "description": "d",
        "host": {"mmap": [{"name": "ram", "hva": "0x7f0000000000", "size": "2M", "prot": "rw"}]},
        "steps": [
          {"op": "KVM_SET_USER_MEMORY_REGION", "slot": 0, "guest_phys_addr": 0, "memory_size": "2M", "userspace_addr": "ram", "expect": 0},
          {"op": "KVM_CREATE_VCPU", "id": 0, "expect": 0}
        ]})");
    for (const auto& s : extra) doc["steps"].push_back(s);
    return doc;
}

json builder(const json& map) {
    return {{"op", "build_page_tables"}, {"mode", "4-level"}, {"root", "0x100000"}, {"pool", "0x101000"}, {"pool_size", "64K"}, {"map", map}};
}

using kvmsim::test::error_path;

}  // namespace

TEST_SUITE("paging_input") {

TEST_CASE("a guest access needs exactly one of gpa and gva, and cpl is 0 or 3") {
    CHECK(error_path(with_steps({{{"op", "guest_read"}, {"vcpu", 0}, {"size", 4}}})) == "/steps/2");
    CHECK(error_path(with_steps({{{"op", "guest_read"}, {"vcpu", 0}, {"gpa", 0}, {"gva", 0}, {"size", 4}}})) == "/steps/2");
    CHECK(error_path(with_steps({{{"op", "guest_read"}, {"vcpu", 0}, {"gva", 0}, {"size", 4}, {"cpl", 2}}})) == "/steps/2/cpl");
    CHECK(error_path(with_steps({{{"op", "guest_fetch"}, {"vcpu", 0}, {"size", 4}}})) == "/steps/2");
}

TEST_CASE("build_page_tables: mode, map entries and flags are checked with their paths") {
    json bad_mode = builder(json::parse(R"([{"gva": 0, "gpa": 0}])"));
    bad_mode["mode"] = "3-level";
    CHECK(error_path(with_steps({bad_mode})) == "/steps/2/mode");
    CHECK(error_path(with_steps({builder(json::array())})) == "/steps/2/map");
    CHECK(error_path(with_steps({builder("x")})) == "/steps/2/map");
    CHECK(error_path(with_steps({builder(json::parse(R"([{"gva": 0}])"))})) == "/steps/2/map/0");
    CHECK(error_path(with_steps({builder(json::parse(R"([{"gva": 0, "gpa": 0, "colour": 1}])"))})) == "/steps/2/map/0/colour");
    CHECK(error_path(with_steps({builder(json::parse(R"([{"gva": 0, "gpa": 0, "flags": ["W", "X"]}])"))})) == "/steps/2/map/0/flags/1");
    CHECK(error_path(with_steps({builder(json::parse(R"([{"gva": "0x1g", "gpa": 0}])"))})) == "/steps/2/map/0/gva");
    json bad_tf = builder(json::parse(R"([{"gva": 0, "gpa": 0}])"));
    bad_tf["table_flags"] = "W";
    CHECK(error_path(with_steps({bad_tf})) == "/steps/2/table_flags");
}

TEST_CASE("an unbuildable spec fails its step with the reason; the run goes on") {
    // The pool (one page) cannot hold the three tables a 4-level mapping needs.
    json b = builder(json::parse(R"([{"gva": "0x1000", "gpa": "0x1000"}])"));
    b["pool_size"] = "4K";
    const Scenario s = parse_scenario(with_steps({b, {{"op", "KVM_CREATE_VCPU"}, {"id", 1}, {"expect", 0}}}), "test.json");
    auto backend = make_model_backend();
    RunOptions o;
    const auto runs = run_scenario(s, *backend, o);
    REQUIRE(runs.size() == 1);
    const auto& steps = runs[0].steps;
    REQUIRE(steps.size() == 4);
    INFO(steps[2].difference.value_or(""));
    CHECK(steps[2].difference.has_value());
    CHECK(steps[2].difference->find("pool is full") != std::string::npos);
    CHECK_FALSE(steps[3].difference.has_value());
}

TEST_CASE("KVM_SET_SREGS: inconsistent long-mode bits give EINVAL, as kvm_is_valid_sregs() does") {
    const Scenario s = parse_scenario(with_steps({
        {{"op", "KVM_SET_SREGS"}, {"vcpu", 0}, {"cr0", "0x80000011"}, {"cr4", "0x0"}, {"efer", "0x500"}, {"expect", "EINVAL"}},  // LME+PG without PAE
        {{"op", "KVM_SET_SREGS"}, {"vcpu", 0}, {"cr0", "0x80000010"}, {"expect", "EINVAL"}},                                    // PG without PE
        {{"op", "KVM_SET_SREGS"}, {"vcpu", 0}, {"cr0", "0x11"}, {"efer", "0x400"}, {"expect", "EINVAL"}},                      // LMA alone
        {{"op", "KVM_SET_SREGS"}, {"vcpu", 0}, {"cr0", "0x80010011"}, {"cr3", "0x100000"}, {"cr4", "0x20"}, {"efer", "0xd00"}, {"expect", 0}},
    }), "test.json");
    auto backend = make_model_backend();
    const auto runs = run_scenario(s, *backend, RunOptions{});
    for (std::size_t i = 2; i < runs[0].steps.size(); ++i) {
        INFO("step " << i << ": " << runs[0].steps[i].difference.value_or(""));
        CHECK_FALSE(runs[0].steps[i].difference.has_value());
    }
}

}  // TEST_SUITE
