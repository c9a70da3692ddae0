// Hardware AF input: set_stage1_regs's "ha" and the outcome key "pte_af" are checked at their
// JSON path; an HA walk on the model reports the AF, and none without HA.
#include <doctest/doctest.h>

#include "sim/backend.h"
#include "sim/runner.h"
#include "support/scenario_test.h"

using namespace kvmsim::sim;
using json = nlohmann::json;

namespace {

json doc(const json& ha, const json& read_expect) {
    return {{"name", "n"}, {"description", "d"}, {"arch", "arm64"}, {"kernels", {"v6.12"}},
            {"host", {{"mmap", {{{"name", "ram"}, {"hva", "0x7f0000000000"}, {"size", "64K"}}}}}},
            {"steps",
             {{{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", 0}, {"guest_phys_addr", "0x40000000"}, {"memory_size", "64K"}, {"userspace_addr", "ram"}, {"expect", 0}},
              {{"op", "KVM_CREATE_VCPU"}, {"id", 0}, {"expect", 0}},
              {{"op", "KVM_ARM_VCPU_INIT"}, {"vcpu", 0}, {"expect", 0}},
              {{"op", "build_stage1_tables"}, {"root", "0x40008000"}, {"pool", "0x40009000"}, {"pool_size", "28K"},
               {"map", {{{"gva", "0x1000"}, {"gpa", "0x40000000"}, {"flags", {"no-AF"}}}}}, {"expect", 0}},
              {{"op", "set_stage1_regs"}, {"vcpu", 0}, {"ttbr0", "0x40008000"}, {"ha", ha}, {"expect", 0}},
              {{"op", "guest_read"}, {"vcpu", 0}, {"gva", "0x1000"}, {"size", 8}, {"expect", read_expect}}}}};
}

}  // namespace

TEST_SUITE("arm64") {

TEST_CASE("set_stage1_regs ha and the pte_af expectation refuse non-booleans at their path") {
    using kvmsim::test::error_path;
    CHECK(error_path(doc("yes", {{"data", 0}})) == "/steps/4/ha");
    CHECK(error_path(doc(true, {{"data", 0}, {"pte_af", 1}})) == "/steps/5/expect/pte_af");
}

TEST_CASE("with HA the walk sets the AF and the access reports it; without, the guest takes an Access flag fault") {
    static Scenario with;
    with = parse_scenario(doc(true, {{"data", 0}, {"pte_af", true}}), "t.json");
    auto model = make_model_backend();
    auto runs = run_scenario(with, *model, RunOptions{});
    REQUIRE(runs.size() == 1);
    CHECK(runs[0].failures() == 0);
    static Scenario without;
    without = parse_scenario(doc(false, {{"exception", {{"vector", "DABT"}, {"fsc", "0xb"}, {"far", "0x1000"}}}}), "t.json");
    runs = run_scenario(without, *model, RunOptions{});
    CHECK(runs[0].failures() == 0);
    CHECK_FALSE(runs[0].steps.back().actual.contains("pte_af"));
}

}  // TEST_SUITE
