// arm64 scenario input: profiles belong to one architecture, arm64-only ops and fields are
// refused elsewhere, and the arm64 extensions report bad values at their JSON path.
#include <doctest/doctest.h>

#include "support/scenario_test.h"
#include "sim/backend.h"
#include "sim/runner.h"
#include "sim/scenario.h"

using namespace kvmsim::sim;
using json = nlohmann::json;

namespace {

json scenario(const std::string& arch, const json& steps, const json& extra = json::object()) {
    json d = {{"name", "n"}, {"description", "d"}, {"arch", arch}, {"steps", steps}};
    for (const auto& [k, v] : extra.items()) d[k] = v;
    return d;
}

using kvmsim::test::error_path;

const json kVcpu = json::array({{{"op", "KVM_CREATE_VCPU"}, {"id", 0}}});

}  // namespace

TEST_SUITE("arm64") {

TEST_CASE("parse_scenario: an arm64 profile on an x86 scenario, and an x86-only profile on arm64 -> /kernel") {
    CHECK(error_path(scenario("x86_64", kVcpu, {{"kernel", "lock-v4"}})) == "/kernel");
    CHECK(error_path(scenario("arm64", kVcpu, {{"kernel", "v3.7"}})) == "/kernel");
    CHECK(error_path(scenario("arm64", kVcpu, {{"kernels", {"mainline", "cca-v7", "v3.6"}}})) == "/kernels/2");
    CHECK_NOTHROW((void)parse_scenario(scenario("arm64", kVcpu, {{"kernels", {"mainline", "cca-v7"}}}), "t.json"));
}

TEST_CASE("run_scenario: --kernel with another arch's profile is a setup error, not a crash") {
    const Scenario s = parse_scenario(scenario("x86_64", kVcpu), "t.json");
    auto backend = make_model_backend();
    RunOptions options;
    options.kernel = "lock-v5";
    const auto runs = run_scenario(s, *backend, options);
    REQUIRE(runs.size() == 1);
    REQUIRE(runs[0].setup_error);
    CHECK(runs[0].setup_error->find("not an x86_64 profile") != std::string::npos);
}

TEST_CASE("parse_scenario: arm64-only ops and fields are refused on x86 -> their paths") {
    CHECK(error_path(scenario("x86_64", {{{"op", "vcpu_busy"}, {"vcpu", 0}, {"busy", true}}})) == "/steps/0/op");
    CHECK(error_path(scenario("x86_64", {{{"op", "guest_fetch"}, {"vcpu", 0}, {"gpa", 0}, {"s1ptw", true}}})) == "/steps/0/s1ptw");
    // and the x86 paging steps and gva accesses on arm64
    CHECK(error_path(scenario("arm64", {{{"op", "build_page_tables"}, {"mode", "4-level"}, {"root", 0}, {"pool", 0}, {"pool_size", 0}, {"map", nlohmann::json::array()}}})) ==
          "/steps/0/op");
    CHECK(error_path(scenario("arm64", {{{"op", "guest_read"}, {"vcpu", 0}, {"gva", 0}, {"size", 4}, {"cpl", 3}}})) == "/steps/0/cpl");
    // the arm64 stage-1 steps on x86
    CHECK(error_path(scenario("x86_64", {{{"op", "set_stage1_regs"}, {"vcpu", 0}, {"ttbr0", 0}}})) == "/steps/0/op");
    CHECK(error_path(scenario("x86_64", {{{"op", "build_stage1_tables"}, {"root", 0}, {"pool", 0}, {"pool_size", 0}, {"map", nlohmann::json::array()}}})) ==
          "/steps/0/op");
    CHECK(error_path(scenario("x86_64", {{{"op", "guest_read"}, {"vcpu", 0}, {"gpa", 0}, {"size", 4}, {"isv", false}}})) == "/steps/0/isv");
    CHECK(error_path(scenario("x86_64", kVcpu, {{"vm", {{"realm", true}}}})) == "/vm/realm");
}

TEST_CASE("parse_scenario: bad arm64 stage-1 values -> their paths") {
    const nlohmann::json map = nlohmann::json::array({{{"gva", 0x10000}, {"gpa", 0x1000}}});
    CHECK(error_path(scenario("arm64", {{{"op", "build_stage1_tables"}, {"root", 0}, {"pool", 0x1000}, {"pool_size", 0x1000}, {"granule", "8K"}, {"map", map}}})) ==
          "/steps/0/granule");
    CHECK(error_path(scenario("arm64", {{{"op", "build_stage1_tables"}, {"root", 0}, {"pool", 0x1000}, {"pool_size", 0x1000}, {"va_bits", 52}, {"map", map}}})) ==
          "/steps/0/va_bits");
    const nlohmann::json bad_flag = nlohmann::json::array({{{"gva", 0x10000}, {"gpa", 0x1000}, {"flags", {"W"}}}});
    CHECK(error_path(scenario("arm64", {{{"op", "build_stage1_tables"}, {"root", 0}, {"pool", 0x1000}, {"pool_size", 0x1000}, {"map", bad_flag}}})) ==
          "/steps/0/map/0/flags/0");
    CHECK(error_path(scenario("arm64", {{{"op", "set_stage1_regs"}, {"vcpu", 0}, {"ttbr0", "0x1000000000000"}}})) == "/steps/0/ttbr0");
}

TEST_CASE("parse_scenario: bad arm64 values -> their paths") {
    CHECK(error_path(scenario("arm64", kVcpu, {{"vm", {{"ipa_bits", 256}}}})) == "/vm/ipa_bits");
    CHECK(error_path(scenario("arm64", kVcpu, {{"vm", {{"realm", "yes"}}}})) == "/vm/realm");
    CHECK(error_path(scenario("arm64", kVcpu, {{"vm", {{"platform", "vmx"}}}})) == "/vm/platform");
    CHECK(error_path(scenario("arm64", kVcpu, {{"vm", {{"type", "sev-es"}}}})) == "/vm/type");
    CHECK(error_path(scenario("arm64", kVcpu, {{"vm", {{"type", "realm"}, {"realm", false}}}})) == "/vm/realm");
    CHECK(parse_scenario(scenario("arm64", kVcpu, {{"vm", {{"type", "realm"}}}}), "t.json").realm);
    CHECK(error_path(scenario("arm64", {{{"op", "KVM_ENABLE_CAP"}, {"cap", 1}, {"args", {0, "KVM_ARM_LOCK_MEM_READ|BOGUS"}}}})) == "/steps/0/args/1");
    CHECK(error_path(scenario("arm64", {{{"op", "guest_read"}, {"vcpu", 0}, {"gpa", 0}, {"size", 4}, {"isv", 1}}})) == "/steps/0/isv");
    CHECK(error_path(scenario("arm64", {{{"op", "KVM_ENABLE_CAP"}, {"cap", "KVM_CAP_ARM_NISV_TO_USER"}, {"flags", {"KVM_BOGUS"}}}})) ==
          "/steps/0/flags/0");
    CHECK(error_path(scenario("arm64", {{{"op", "KVM_ENABLE_CAP"}, {"cap", 1}, {"args", {0, "KVM_ARM_LOCK_MEM_EXEC"}}}})) == "/steps/0/args/1");
    CHECK(error_path(scenario("arm64", {{{"op", "KVM_CREATE_VM"}}})) == "/steps/0");
    CHECK(error_path(scenario("arm64", {{{"op", "guest_fetch"}, {"vcpu", 0}, {"gpa", 0}, {"expect", 0}}})) == "/steps/0/expect");
}

TEST_CASE("run_scenario: arm64 step errors are reported per step (page-crossing access, busy vCPU, realm refused)") {
    const json steps = {{{"op", "KVM_CREATE_VCPU"}, {"id", 0}, {"expect", 0}},
                        {{"op", "KVM_ARM_VCPU_INIT"}, {"vcpu", 0}, {"expect", 0}},
                        {{"op", "guest_read"}, {"vcpu", 0}, {"gpa", "0xffe"}, {"size", 4}},
                        {{"op", "vcpu_busy"}, {"vcpu", 0}, {"busy", true}},
                        {{"op", "guest_read"}, {"vcpu", 0}, {"gpa", 0}, {"size", 4}},
                        {{"op", "setrlimit"}, {"resource", "RLIMIT_NOFILE"}, {"rlim_cur", 1}}};
    const Scenario s = parse_scenario(scenario("arm64", steps), "t.json");
    auto backend = make_model_backend();
    const auto runs = run_scenario(s, *backend, {});
    REQUIRE(runs.size() == 1);
    REQUIRE(runs[0].steps.size() == 6);
    CHECK(runs[0].steps[2].difference);
    CHECK(runs[0].steps[4].difference);
    CHECK(runs[0].steps[5].difference);
    // A realm under mainline: KVM_CREATE_VM refuses the type word (bit 8 is unknown upstream).
    const Scenario realm = parse_scenario(scenario("arm64", kVcpu, {{"vm", {{"realm", true}}}}), "t.json");
    const auto r = run_scenario(realm, *backend, {});
    REQUIRE(r[0].setup_error);
    CHECK(r[0].setup_error->find("EINVAL") != std::string::npos);
}

}  // TEST_SUITE
