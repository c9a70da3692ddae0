// diff names the toggle behind a disagreement (sim/diff_toggles.h): the model against a model
// with one patch flipped stands for a kernel with that patch, without /dev/kvm or QEMU.
#include <doctest/doctest.h>

#include <algorithm>

#include "sim/diff_toggles.h"
#include "sim/scenario.h"

using namespace kvmsim;
using namespace kvmsim::sim;

namespace {

bool names(const StepDisagreement& d, const std::string& toggle) {
    return std::find(d.toggles.begin(), d.toggles.end(), toggle) != d.toggles.end();
}

}  // namespace

TEST_SUITE("differential") {
    TEST_CASE("diff names a reverted patch at the step it changes, and nothing where the sides agree") {
        const nlohmann::json doc = {
            {"name", "t"}, {"description", "d"}, {"vm", {{"platform", "pvm"}}},
            {"host", {{"mmap", {{{"name", "ram"}, {"hva", "0x7e0000000000"}, {"size", "64K"}, {"prot", "rw"}}}}}},
            {"steps",
             {{{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", 0}, {"guest_phys_addr", 0}, {"memory_size", "16K"}, {"userspace_addr", "ram"}},
              {{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", 0}, {"flags", {"KVM_MEM_READONLY"}}, {"guest_phys_addr", 0}, {"memory_size", "16K"},
               {"userspace_addr", "ram"}}}}};
        const Scenario s = parse_scenario(doc, "t");
        auto model = make_model_backend();
        auto kernel = make_toggled_model_backend({}, {"readonly-toggle-einval"});
        DiffReport d = diff_scenario(s, *model, *kernel, "pvm");
        name_toggles(s, d, {}, {}, "pvm", std::nullopt, std::nullopt);
        REQUIRE(d.disagreements.size() == 1);
        CHECK(names(d.disagreements[0], "-readonly-toggle-einval"));
        CHECK(std::none_of(d.disagreements[0].toggles.begin(), d.disagreements[0].toggles.end(), [](const std::string& t) { return t[0] == '+'; }));

        auto same = make_model_backend();
        DiffReport agree = diff_scenario(s, *model, *same, "pvm");
        name_toggles(s, agree, {}, {}, "pvm", std::nullopt, std::nullopt);
        CHECK(agree.disagreements.empty());
    }

    TEST_CASE("diff names a patch the kernel carries past its profile (6.12 with guest-memfd-all-vms), and not once it is applied") {
        const nlohmann::json doc = {
            {"name", "t"}, {"description", "d"}, {"arch", "x86_64"},
            {"vm", {{"platform", "svm"}, {"host", {{"guest_memfd", true}}}}},
            {"steps",
             {{{"op", "KVM_CHECK_EXTENSION"}, {"cap", "KVM_CAP_GUEST_MEMFD"}},
              {{"op", "KVM_CHECK_EXTENSION"}, {"cap", "KVM_CAP_GUEST_MEMFD"}, {"fd", "system"}}}}};
        const Scenario s = parse_scenario(doc, "t");
        auto model = make_model_backend();
        auto kernel = make_toggled_model_backend({"guest-memfd-all-vms"}, {});
        DiffReport d = diff_scenario(s, *model, *kernel, "svm", std::nullopt, "v6.12");
        name_toggles(s, d, {}, {}, "svm", std::nullopt, "v6.12");
        REQUIRE(d.disagreements.size() == 1);  // the VM fd; /dev/kvm answered 1 before the patch too
        CHECK(d.disagreements[0].step->index == 0);
        CHECK(d.disagreements[0].toggles == std::vector<std::string>{"+guest-memfd-all-vms"});

        auto applied = make_toggled_model_backend({"guest-memfd-all-vms"}, {});
        const DiffReport none = diff_scenario(s, *applied, *kernel, "svm", std::nullopt, "v6.12");
        CHECK(none.disagreements.empty());
    }
}
