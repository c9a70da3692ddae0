// VMM steps (sim/vmm_steps.cpp): bad input is refused with the JSON path, and a run-time
// inconsistency (a flash mapping smaller than the flash) is a step error, never a crash.
#include <doctest/doctest.h>

#include "sim/backend.h"
#include "sim/runner.h"
#include "sim/scenario.h"

using namespace kvmsim::sim;
using json = nlohmann::json;

namespace {

json doc_with(const json& step) {
    json d = json::parse(R"({"name": "n", "description": "d",
        "host": {"mmap": [{"name": "flash", "hva": "0x7f0010000000", "size": "4K", "prot": "rw", "flags": ["shared"]}]},
        "steps": []})");
    d["steps"].push_back(step);
    return d;
}

std::string error_path(const json& doc) {
    try {
        (void)parse_scenario(doc, "test.json");
    } catch (const ScenarioError& e) {
        return e.path();
    }
    return "<accepted>";
}

}  // namespace

TEST_SUITE("vmm_steps") {

TEST_CASE("vmm_steps: unknown bank type, mapping policy or expectation key names its path") {
    CHECK(error_path(doc_with({{"op", "vmm_register_mem"}, {"gpa", 0}, {"size", "4K"}, {"hva", "flash"}, {"type", "ROM"}})) == "/steps/0/type");
    CHECK(error_path(doc_with({{"op", "vmm_register_mem"}, {"gpa", 0}, {"size", "4K"}, {"hva", "flash"}, {"type", "RAM|"}})) == "/steps/0/type");
    CHECK(error_path(doc_with({{"op", "vmm_cfi_flash"}, {"hva", "flash"}, {"file_size", "4K"}, {"mapping", "qemu"}})) == "/steps/0/mapping");
    CHECK(error_path(doc_with({{"op", "vmm_scratch_device"}, {"gpa", 0}, {"size", "1G"}})) == "/steps/0/size");
    CHECK(error_path(doc_with({{"op", "vmm_mem_banks"}, {"expect", {{"listing", "x"}}}})) == "/steps/0/expect/listing");
    CHECK(error_path(doc_with({{"op", "vmm_mem_banks"}, {"expect", {{"bogus", 1}}}})) == "/steps/0/expect/bogus");
    CHECK(error_path(doc_with({{"op", "vmm_guest_read"}, {"vcpu", 0}, {"gpa", 0}, {"size", 4}, {"expect", {{"exits", {{{"colour", 1}}}}}}})) ==
          "/steps/0/expect/exits/0/colour");
    CHECK(error_path(doc_with({{"op", "vmm_register_mem"}, {"gpa", 0}, {"size", "4K"}, {"hva", "flash"}, {"type", "RAM"}, {"expect", {{"ret", "EBOGUS"}}}})) ==
          "/steps/0/expect/ret");
    CHECK(error_path(doc_with({{"op", "vmm_register_mem"}, {"gpa", 0}, {"size", "4K"}, {"hva", "flash"}, {"type", "RAM|READONLY"}, {"expect", {{"ret", 0}}}})) ==
          "<accepted>");
}

TEST_CASE("vmm_steps: a flash larger than its mapping and a second flash are step errors; a missing vCPU is bad input") {
    json d = doc_with({{"op", "vmm_cfi_flash"}, {"hva", "flash"}, {"file_size", "64K"}});
    d["steps"].push_back({{"op", "vmm_cfi_flash"}, {"hva", "flash"}, {"file_size", "4K"}});
    d["steps"].push_back({{"op", "vmm_cfi_flash"}, {"hva", "flash"}, {"file_size", "4K"}});
    json bad = d;
    bad["steps"].push_back({{"op", "vmm_guest_read"}, {"vcpu", 3}, {"gpa", 0}, {"size", 4}});
    CHECK(error_path(bad) == "/steps/3/vcpu");
    const Scenario s = parse_scenario(d, "test.json");
    auto backend = make_model_backend();
    const auto runs = run_scenario(s, *backend, {});
    REQUIRE(runs.size() == 1);
    REQUIRE(runs[0].steps.size() == 3);
    REQUIRE(runs[0].steps[0].difference);
    CHECK(runs[0].steps[0].difference->find("/steps/0/hva") != std::string::npos);
    CHECK_FALSE(runs[0].steps[1].difference);
    REQUIRE(runs[0].steps[2].difference);
    CHECK(runs[0].steps[2].difference->find("one flash device") != std::string::npos);
}

}  // TEST_SUITE
