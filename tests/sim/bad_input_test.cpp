// Scenario input that must be refused with a ScenarioError naming the JSON path, and large
// inputs that must run in bounded time and memory (contract: shared/scenario-format.md).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "sim/backend.h"
#include "sim/runner.h"
#include "sim/scenario.h"

using namespace kvmsim::sim;
using json = nlohmann::json;

namespace {

json minimal() {
    return json::parse(R"({"name": "n", "description": "d",
        "host": {"mmap": [{"name": "ram", "hva": "0x7f0000000000", "size": "64K", "prot": "rw"}]},
        "steps": [
          {"op": "KVM_SET_USER_MEMORY_REGION", "slot": 0, "guest_phys_addr": 0, "memory_size": "64K", "userspace_addr": "ram", "expect": 0},
          {"op": "KVM_CREATE_VCPU", "id": 0, "expect": 0},
          {"op": "guest_write", "vcpu": 0, "gpa": "0x10", "size": 4, "data": "0x11223344"}
        ]})");
}

// The path of the ScenarioError parse_scenario throws; fails the test if it throws nothing.
std::string error_path(const json& doc, std::string* message = nullptr) {
    try {
        (void)parse_scenario(doc, "test.json");
    } catch (const ScenarioError& e) {
        INFO(e.what());
        CHECK(std::string(e.what()).rfind((e.path().empty() ? std::string("(document)") : e.path()) + ": ", 0) == 0);  // starts with the path
        if (message) *message = e.what();
        return e.path();
    }
    FAIL("parse_scenario accepted " << doc.dump().substr(0, 300));
    return "<accepted>";
}

struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string& text) {
        static int n = 0;
        path = std::filesystem::temp_directory_path() /
               ("kvmsim_bad_input_" + std::to_string(::getpid()) + "_" + std::to_string(n++) + ".json");
        std::ofstream(path, std::ios::binary) << text;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

std::string load_error_path(const std::string& text, std::string* message = nullptr) {
    TempFile f(text);
    try {
        (void)load_scenario(f.path.string());
    } catch (const ScenarioError& e) {
        if (message) *message = e.what();
        return e.path();
    }
    FAIL("load_scenario accepted the file");
    return "<accepted>";
}

std::size_t run_failures(const Scenario& s) {
    auto backend = make_model_backend();
    std::size_t n = 0;
    for (const KernelRun& run : run_scenario(s, *backend, {})) {
        if (run.setup_error) MESSAGE("setup: " << *run.setup_error);
        for (const StepReport& st : run.steps)
            if (st.difference) MESSAGE("step " << st.step->index << ": " << *st.difference);
        n += run.failures();
    }
    return n;
}

}  // namespace

TEST_SUITE("bad_input") {

TEST_CASE("parse_scenario: the minimal valid scenario parses and runs") {
    const Scenario s = parse_scenario(minimal(), "ok.json");
    CHECK(s.steps.size() == 3);
    CHECK(s.kernels == std::vector<std::string>{"mainline"});
    CHECK(run_failures(s) == 0);
}

TEST_CASE("load_scenario: malformed JSON -> ScenarioError at the document root saying it is not JSON") {
    std::string msg;
    CHECK(load_error_path(R"({"name": "n", "steps": [)", &msg) == "");
    CHECK(msg.find("not valid JSON") != std::string::npos);
    CHECK(load_error_path("") == "");
    CHECK(load_error_path(R"({"name": "n",})") == "");
}
TEST_CASE("load_scenario: a missing file -> ScenarioError") {
    CHECK_THROWS_AS(load_scenario("/nonexistent/kvmsim/none.json"), ScenarioError);
}
TEST_CASE("load_scenario: a file over kMaxFileBytes -> ScenarioError") {
    std::string msg;
    CHECK(load_error_path(std::string(kMaxFileBytes + 1, ' '), &msg) == "");
    CHECK(msg.find("larger") != std::string::npos);
}
TEST_CASE("load_scenario: 100000 nested arrays -> ScenarioError, no stack overflow") {
    std::string msg;
    CHECK(load_error_path(std::string(100000, '[') + std::string(100000, ']'), &msg) == "");
    CHECK(msg.find("nested") != std::string::npos);
    // Inside an otherwise valid document, in a key nobody reads.
    json doc = minimal();
    std::string text = doc.dump();
    text.insert(text.rfind(']'), R"(, {"op": "KVM_CREATE_VCPU", "id": 1, "comment": )" + std::string(70, '[') + std::string(70, ']') + "}");
    CHECK(load_error_path(text) == "");
}
TEST_CASE("parse_scenario: deep nesting where a string is expected -> the path of that key") {
    json deep = "x";
    for (int i = 0; i < 2000; ++i) deep = json{{"a", deep}};
    json doc = minimal();
    doc["description"] = deep;
    CHECK(error_path(doc) == "/description");
}

TEST_CASE("parse_scenario: wrong top-level shapes and types") {
    CHECK(error_path(json::array()) == "");
    json doc = minimal();
    doc.erase("name");
    CHECK(error_path(doc) == "");
    doc = minimal();
    doc["name"] = 5;
    CHECK(error_path(doc) == "/name");
    doc = minimal();
    doc["steps"] = json::object();
    CHECK(error_path(doc) == "/steps");
    doc = minimal();
    doc.erase("steps");
    CHECK(error_path(doc) == "");
    doc = minimal();
    doc["steps"][1] = 7;
    CHECK(error_path(doc) == "/steps/1");
}
TEST_CASE("parse_scenario: unknown top-level, vm, host and step keys -> their paths") {
    json doc = minimal();
    doc["bogus"] = 1;
    CHECK(error_path(doc) == "/bogus");
    doc = minimal();
    doc["vm"] = {{"type", "default"}, {"smm", true}};
    CHECK(error_path(doc) == "/vm/smm");
    doc = minimal();
    doc["host"]["mmap"][0]["huge"] = true;
    CHECK(error_path(doc) == "/host/mmap/0/huge");
    doc = minimal();
    doc["steps"][0]["gpa"] = 0;
    CHECK(error_path(doc) == "/steps/0/gpa");
    doc = minimal();
    doc["steps"][2]["expect"] = {{"exit", "KVM_EXIT_MMIO"}, {"mmio", {{"phys", 0}}}};
    CHECK(error_path(doc) == "/steps/2/expect/mmio/phys");
}
TEST_CASE("parse_scenario: unknown op, unknown kernel function -> their paths") {
    json doc = minimal();
    doc["steps"][1]["op"] = "KVM_RUN_FASTER";
    CHECK(error_path(doc) == "/steps/1/op");
    doc["steps"][1]["op"] = 3;
    CHECK(error_path(doc) == "/steps/1/op");
    doc = minimal();
    doc["steps"].push_back({{"op", "kvm_call"}, {"fn", "gfn_to_page"}});
    CHECK(error_path(doc) == "/steps/3/fn");
}
TEST_CASE("parse_scenario: a missing required field names the step") {
    json doc = minimal();
    doc["steps"][0].erase("memory_size");
    std::string msg;
    CHECK(error_path(doc, &msg) == "/steps/0");
    CHECK(msg.find("memory_size") != std::string::npos);
}
TEST_CASE("parse_scenario: numbers out of range for their field: slot 2^32, negative, overflowing u64") {
    json doc = minimal();
    doc["steps"][0]["slot"] = 4294967296ULL;
    CHECK(error_path(doc) == "/steps/0/slot");
    doc["steps"][0]["slot"] = "0x100000000";
    CHECK(error_path(doc) == "/steps/0/slot");
    doc["steps"][0]["slot"] = 4294967295ULL;  // the largest u32 is a valid input (the kernel then says EINVAL)
    doc["steps"][0].erase("expect");
    CHECK_NOTHROW(parse_scenario(doc, "t.json"));
    doc = minimal();
    doc["steps"][0]["slot"] = -1;
    CHECK(error_path(doc) == "/steps/0/slot");
    doc = minimal();
    doc["steps"][0]["guest_phys_addr"] = "0x10000000000000000";
    CHECK(error_path(doc) == "/steps/0/guest_phys_addr");
    doc["steps"][0]["guest_phys_addr"] = "18446744073709551616";
    CHECK(error_path(doc) == "/steps/0/guest_phys_addr");
    doc["steps"][0]["guest_phys_addr"] = "16777216T";  // 2^64
    CHECK(error_path(doc) == "/steps/0/guest_phys_addr");
    doc = minimal();
    doc["steps"][0]["memory_size"] = 1.5;
    CHECK(error_path(doc) == "/steps/0/memory_size");
    doc["steps"][0]["memory_size"] = true;
    CHECK(error_path(doc) == "/steps/0/memory_size");
    doc["steps"][0]["memory_size"] = "64Q";
    CHECK(error_path(doc) == "/steps/0/memory_size");
    doc = minimal();
    doc["host"]["mmap"][0]["size"] = "-4K";
    CHECK(error_path(doc) == "/host/mmap/0/size");
}
TEST_CASE("parse_scenario: access size and data that do not fit it") {
    json doc = minimal();
    doc["steps"][2]["size"] = 3;
    CHECK(error_path(doc) == "/steps/2/size");
    doc = minimal();
    doc["steps"][2]["size"] = 1;
    doc["steps"][2]["data"] = 256;
    CHECK(error_path(doc) == "/steps/2/data");
    doc["steps"][2]["size"] = 2;
    doc["steps"][2]["data"] = "0x10000";
    CHECK(error_path(doc) == "/steps/2/data");
}
TEST_CASE("parse_scenario: unknown names: flag, capability, errno, exit, profile, platform, patch, mapping") {
    json doc = minimal();
    doc["steps"][0]["flags"] = {"KVM_MEM_READONLY", "KVM_MEM_EXECUTABLE"};
    CHECK(error_path(doc) == "/steps/0/flags/1");
    doc = minimal();
    doc["steps"].push_back({{"op", "KVM_CHECK_EXTENSION"}, {"cap", "KVM_CAP_TELEPORT"}});
    CHECK(error_path(doc) == "/steps/3/cap");
    doc = minimal();
    doc["steps"][0]["expect"] = "EWHATEVER";
    CHECK(error_path(doc) == "/steps/0/expect");
    doc = minimal();
    doc["steps"][2]["expect"] = {{"exit", "KVM_EXIT_TELEPORT"}};
    CHECK(error_path(doc) == "/steps/2/expect/exit");
    doc = minimal();
    doc["steps"][0]["expect_on"] = {{"v9.9", "EINVAL"}};
    CHECK(error_path(doc) == "/steps/0/expect_on/v9.9");
    doc = minimal();
    doc["kernel"] = "v2.6";
    CHECK(error_path(doc) == "/kernel");
    doc = minimal();
    doc["kernels"] = json::array();
    CHECK(error_path(doc) == "/kernels");
    doc["kernels"] = {"mainline", "v9"};
    CHECK(error_path(doc) == "/kernels/1");
    doc = minimal();
    doc["vm"] = {{"platform", "tcg"}};
    CHECK(error_path(doc) == "/vm/platform");
    doc["vm"] = {{"type", "realm"}};
    CHECK(error_path(doc) == "/vm/type");
    doc = minimal();
    doc["patches"] = {{"apply", {"no-such-patch"}}};
    CHECK(error_path(doc) == "/patches/apply/0");
    doc = minimal();
    doc["steps"][0]["userspace_addr"] = "rom+0x1000";
    CHECK(error_path(doc) == "/steps/0/userspace_addr");
    doc = minimal();
    doc["arch"] = "riscv64";
    CHECK(error_path(doc) == "/arch");
}
TEST_CASE("parse_scenario: host mappings: missing hva, bad prot, a name used twice") {
    json doc = minimal();
    doc["host"]["mmap"][0].erase("hva");
    CHECK(error_path(doc) == "/host/mmap/0");
    doc = minimal();
    doc["host"]["mmap"][0]["prot"] = "wx";
    CHECK(error_path(doc) == "/host/mmap/0/prot");
    doc = minimal();
    doc["host"]["mmap"].push_back({{"name", "ram"}, {"hva", "0x7f0100000000"}, {"size", "4K"}});
    CHECK(error_path(doc) == "/host/mmap/1/name");
    doc = minimal();
    doc["host"]["mmap"][0]["flags"] = {"thp"};
    CHECK(error_path(doc) == "/host/mmap/0/flags/0");
    doc = minimal();  // an x86_64 scenario: huge pages are modelled on arm64 only
    doc["host"]["mmap"][0]["flags"] = {"hugetlb"};
    CHECK(error_path(doc) == "/host/mmap/0/flags");
}
TEST_CASE("parse_scenario: more than the step limit -> /steps") {
    json doc = minimal();
    json step = {{"op", "KVM_CREATE_VCPU"}, {"id", 0}};
    doc["steps"] = json::array();
    for (std::size_t i = 0; i <= kMaxSteps; ++i) doc["steps"].push_back(step);
    CHECK(error_path(doc) == "/steps");
}

TEST_CASE("run: a 1 TiB slot over a 1 TiB mapping runs with two resident pages (sparse host memory)") {
    const json doc = json::parse(R"({"name": "1T", "description": "d",
        "host": {"mmap": [{"name": "big", "hva": "0x100000000000", "size": "1T", "prot": "rw"}]},
        "steps": [
          {"op": "KVM_SET_USER_MEMORY_REGION", "slot": 0, "guest_phys_addr": 0, "memory_size": "1T", "userspace_addr": "big", "expect": 0},
          {"op": "KVM_CREATE_VCPU", "id": 0, "expect": 0},
          {"op": "guest_write", "vcpu": 0, "gpa": "0xfffffffff8", "size": 8, "data": "0x0102030405060708", "expect": {"data": "0x0102030405060708"}},
          {"op": "host_read", "hva": "big+0xfffffffff8", "size": 8, "expect": {"data": "0x0102030405060708"}},
          {"op": "guest_read", "vcpu": 0, "gpa": "0x8000000000", "size": 8, "expect": {"data": 0}},
          {"op": "KVM_SET_USER_MEMORY_REGION", "slot": 0, "guest_phys_addr": 0, "memory_size": 0, "userspace_addr": 0, "expect": 0}
        ]})");
    CHECK(run_failures(parse_scenario(doc, "big.json")) == 0);
}
TEST_CASE("run: a scenario of kMaxSteps steps parses and runs; one more is refused") {
    json doc = minimal();
    doc["steps"] = json::array();
    for (std::size_t i = 0; i < kMaxSteps / 2; ++i) {
        doc["steps"].push_back({{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", i % 7}, {"guest_phys_addr", (i % 7) * 0x10000},
                                {"memory_size", "64K"}, {"userspace_addr", "ram"}, {"expect", 0}});
        doc["steps"].push_back({{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", i % 7}, {"guest_phys_addr", 0},
                                {"memory_size", 0}, {"userspace_addr", 0}, {"expect", 0}});
    }
    const Scenario s = parse_scenario(doc, "long.json");
    CHECK(s.steps.size() == kMaxSteps);
    CHECK(run_failures(s) == 0);
    doc["steps"].push_back({{"op", "KVM_CHECK_EXTENSION"}, {"cap", "KVM_CAP_NR_MEMSLOTS"}});
    CHECK_THROWS_AS(parse_scenario(doc, "long.json"), ScenarioError);
}

TEST_CASE("load_scenario: a number past the double range (1e309) -> ScenarioError, not an internal error") {
    std::string msg;
    CHECK(load_error_path(R"({"name": "n", "description": "d", "steps": [{"op": "KVM_CREATE_VCPU", "id": 1e309}]})", &msg) == "");
    CHECK(msg.find("not valid JSON") != std::string::npos);
}
TEST_CASE("parse_scenario: a kernels list naming one profile twice -> ScenarioError at /kernels/1") {
    json doc = minimal();
    doc["kernels"] = {"mainline", "mainline"};
    std::string where;
    try {
        parse_scenario(doc, "k.json");
    } catch (const ScenarioError& e) {
        where = e.path();
    }
    CHECK(where == "/kernels/1");
}

}  // TEST_SUITE
