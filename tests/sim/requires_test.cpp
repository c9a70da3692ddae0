// A scenario's "requires": CPU features (FEAT_HAFDBS, LSE, DC ZVA allowed) read from the ID
// registers of the machine compared with, present on the model's platform unless vm.host removes
// one; a scenario needing a missing one is skipped with the reason, as page_fault_test skips.
#include <doctest/doctest.h>

#include "sim/backend.h"
#include "sim/host_description.h"
#include "sim/requires.h"
#include "sim/runner.h"
#include "support/scenario_test.h"

using namespace kvmsim;
using namespace kvmsim::sim;

namespace {

nlohmann::json arm64_doc(nlohmann::json needs, nlohmann::json host = nullptr) {
    nlohmann::json doc = {{"name", "t"}, {"description", "t"}, {"arch", "arm64"}, {"kernels", {"v6.12"}}, {"requires", std::move(needs)},
                          {"steps", {{{"op", "KVM_CREATE_VCPU"}, {"id", 0}, {"expect", 0}}}}};
    if (!host.is_null()) doc["vm"] = {{"host", std::move(host)}};
    return doc;
}

std::vector<KernelRun> run_on_model(const nlohmann::json& doc, std::optional<HostDescription> host = std::nullopt) {
    static Scenario s;  // the reports point into it
    s = parse_scenario(doc, "t.json");
    auto model = make_model_backend();
    RunOptions o;
    o.host = host;
    return run_scenario(s, *model, o);
}

}  // namespace

TEST_SUITE("host_description") {

TEST_CASE("the vCPU's ID registers become the CPU features of the description") {
    HostFacts f;
    CHECK_FALSE(describe_host(f).arm64_hafdbs);  // not read (x86): the platform's
    CHECK(has_feature(describe_host(f), CpuFeature::Hafdbs));
    f.id_aa64mmfr1 = 0x0;                       // HAFDBS 0
    f.id_aa64isar0 = std::uint64_t{1} << 20;    // Atomic 1: not LSE
    f.dczid = 0x14;                             // DZP 1, BS 4
    HostDescription h = describe_host(f);
    CHECK_FALSE(has_feature(h, CpuFeature::Hafdbs));
    CHECK_FALSE(has_feature(h, CpuFeature::Lse));
    CHECK_FALSE(has_feature(h, CpuFeature::DcZva));
    CHECK(h.arm64_dczva_block == 64u);
    f.id_aa64mmfr1 = 0x2;                       // AF and dirty state
    f.id_aa64isar0 = std::uint64_t{2} << 20;
    f.dczid = 0x4;
    h = describe_host(f);
    CHECK(has_feature(h, CpuFeature::Hafdbs));
    CHECK(has_feature(h, CpuFeature::Lse));
    CHECK(has_feature(h, CpuFeature::DcZva));
    // It crosses the QEMU wire.
    const HostDescription back = host_from_json(host_to_json(h));
    CHECK(back.arm64_hafdbs == h.arm64_hafdbs);
    CHECK(back.arm64_lse == h.arm64_lse);
    CHECK(back.arm64_dc_zva == h.arm64_dc_zva);
    CHECK(back.arm64_dczva_block == h.arm64_dczva_block);
}

TEST_CASE("a missing required feature names itself and the field that says so") {
    HostDescription h;
    CHECK_FALSE(unmet_requirement({CpuFeature::Hafdbs, CpuFeature::Lse, CpuFeature::DcZva}, h));
    h.arm64_lse = false;
    const auto why = unmet_requirement({CpuFeature::Hafdbs, CpuFeature::Lse}, h);
    REQUIRE(why);
    CHECK(why->find("FEAT_LSE") != std::string::npos);
    CHECK(why->find("ID_AA64ISAR0_EL1.Atomic") != std::string::npos);
}

TEST_CASE("on the model a scenario runs where the features are there and is skipped where vm.host or the compared host removes one") {
    const auto present = run_on_model(arm64_doc({"hafdbs", "lse", "dc_zva"}));
    REQUIRE(present.size() == 1);
    CHECK_FALSE(present[0].steps.at(0).skipped);
    CHECK(present[0].failures() == 0);

    const auto removed = run_on_model(arm64_doc({"hafdbs"}, {{"hafdbs", false}}));
    REQUIRE(removed[0].steps.size() == 1);
    CHECK(removed[0].steps[0].skipped);
    CHECK(removed[0].steps[0].skip_reason.find("ID_AA64MMFR1_EL1.HAFDBS = 0") != std::string::npos);

    HostDescription no_dc_zva;
    no_dc_zva.arm64_dc_zva = false;
    const auto compared = run_on_model(arm64_doc({"dc_zva"}), no_dc_zva);
    CHECK(compared[0].steps.at(0).skipped);
    CHECK(compared[0].steps[0].skip_reason.find("DCZID_EL0.DZP = 1") != std::string::npos);
    // A feature the scenario does not require changes nothing here.
    CHECK_FALSE(run_on_model(arm64_doc({"lse"}), no_dc_zva)[0].steps.at(0).skipped);
}

TEST_CASE("a pinned feature is a conflict on a machine that differs (the kvm backend's skip)") {
    const Scenario s = parse_scenario(arm64_doc(nlohmann::json::array(), {{"hafdbs", false}, {"dczva_block", 128}}), "t.json");
    HostDescription h;
    h.arm64_hafdbs = false;
    h.arm64_dczva_block = 128;
    CHECK_FALSE(pin_conflict(s.host_pins, h));
    h.arm64_hafdbs = true;
    const auto why = pin_conflict(s.host_pins, h);
    REQUIRE(why);
    CHECK(why->find("hafdbs 0 (this host: 1)") != std::string::npos);
}

TEST_CASE("requires and the feature pins refuse bad input at their JSON path") {
    using kvmsim::test::error_path;
    CHECK(error_path(arm64_doc("hafdbs")) == "/requires");
    CHECK(error_path(arm64_doc({"hafdbs", "sve"})) == "/requires/1");
    CHECK(error_path(arm64_doc({7})) == "/requires/0");
    CHECK(error_path(arm64_doc({"lse", "lse"})) == "/requires/1");
    nlohmann::json x86 = arm64_doc({"lse"});
    x86.erase("arch");
    x86["kernels"] = {"mainline"};
    CHECK(error_path(x86) == "/requires/0");  // an arm64 feature in an x86 scenario
    CHECK(error_path(arm64_doc(nlohmann::json::array(), {{"hafdbs", "no"}})) == "/vm/host/hafdbs");
    CHECK(error_path(arm64_doc(nlohmann::json::array(), {{"dczva_block", 100}})) == "/vm/host/dczva_block");
    CHECK(error_path(arm64_doc(nlohmann::json::array(), {{"dczva_block", 4096}})) == "/vm/host/dczva_block");
}

}  // TEST_SUITE
