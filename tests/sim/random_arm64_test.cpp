// The arm64 random sequences (sim/random_arm64.cpp): reproducible by seed, and a share of the
// stage-1 ones set TCR_EL1.HA over leaves with the AF clear, so `kvmsim fuzz` compares the
// walker's AF write (a stage-2 write flagged S1PTW) and the reported pte_af with the real kernel.
#include <doctest/doctest.h>

#include <set>

#include "sim/backend.h"
#include "sim/random_scenario.h"
#include "sim/scenario.h"

using namespace kvmsim;
using namespace kvmsim::sim;

namespace {

RandomScenarioOptions arm64_options() {
    RandomScenarioOptions o;
    o.arch = "arm64";
    o.paging_percent = 40;  // as tests/qemu/CMakeLists.txt runs them
    o.caps = false;
    return o;
}

bool sets_ha(const nlohmann::json& doc) {
    for (const auto& st : doc["steps"])
        if (st["op"] == "set_stage1_regs" && st.value("ha", false)) return true;
    return false;
}

}  // namespace

TEST_SUITE("differential") {
    TEST_CASE("arm64 random sequences are reproducible and differ by seed") {
        std::set<std::string> seen;
        for (std::uint64_t seed = 1; seed <= 300; ++seed) {
            const nlohmann::json doc = random_scenario(seed, arm64_options());
            CHECK_NOTHROW((void)parse_scenario(doc, "random"));
            CHECK(doc == random_scenario(seed, arm64_options()));
            seen.insert(doc.dump());
        }
        CHECK(seen.size() == 300);
    }

    TEST_CASE("a share of the arm64 stage-1 sequences sets HA over leaves without the AF, and the model reports pte_af after their completed accesses") {
        unsigned mmu_on = 0, with_ha = 0, ha_no_af_leaves = 0, af_true = 0, af_false = 0;
        std::set<std::string> ha_table_slots;  // the tables' slot flags in HA sequences
        for (std::uint64_t seed = 1; seed <= 300; ++seed) {
            const nlohmann::json doc = random_scenario(seed, arm64_options());
            bool mmu = false;
            for (const auto& st : doc["steps"]) mmu |= st["op"] == "set_stage1_regs";
            mmu_on += mmu;
            if (!sets_ha(doc)) continue;
            ++with_ha;
            for (const auto& st : doc["steps"]) {
                if (st["op"] == "build_stage1_tables")
                    for (const auto& m : st["map"]) ha_no_af_leaves += m["flags"].dump().find("no-AF") != std::string::npos;
                if (st["op"] == "KVM_SET_USER_MEMORY_REGION" && st["slot"] == 7) ha_table_slots.insert(st["flags"].dump());
            }
            const Scenario s = parse_scenario(doc, "random:" + std::to_string(seed));
            auto model = make_model_backend();
            RunConfig cfg;
            cfg.profile = "mainline";
            model->start(s, cfg);
            for (const Step& step : s.steps) {
                StepResult r;
                try {
                    r = model->run(step);
                } catch (const ScenarioError&) {
                    break;  // e.g. set_stage1_regs refused on a vCPU never initialised: no MMU, no gva
                }
                if (r.actual.is_object() && r.actual.contains("pte_af")) (r.actual["pte_af"].get<bool>() ? af_true : af_false) += 1;
            }
        }
        // Seeds 1..300 at 40%: about 120 with the MMU on, about 48 of them with HA.
        CHECK(mmu_on > 80);
        CHECK(with_ha > 25);
        CHECK(with_ha < mmu_on);
        CHECK(ha_no_af_leaves > 2 * with_ha);
        CHECK(ha_table_slots.size() == 3);  // plain, read-only and dirty-logged tables
        // A completed access leaves its leaf's AF set (HA set it, or it was); only a guest store
        // through a leaf that maps the tables themselves can clear it again afterwards.
        CHECK(af_true > 50);
        CHECK(af_false < af_true / 10);
        MESSAGE("seeds 1-300: " << mmu_on << " with the MMU on, " << with_ha << " with HA, " << ha_no_af_leaves << " leaves without the AF there, "
                                << af_true << " accesses reporting pte_af true, " << af_false << " false");
    }
}
