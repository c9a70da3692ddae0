// The host half of the qemu backends without QEMU: the initramfs format, module dependencies,
// the wire protocol and which profile a booted kernel stands for.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "sim/qemu/initramfs.h"
#include "sim/qemu/kernel_files.h"
#include "sim/qemu/qemu_backend.h"
#include "sim/qemu/wire.h"

using namespace kvmsim::sim;
using namespace kvmsim::sim::qemu;

TEST_SUITE("qemu_harness") {
    TEST_CASE("a booted kernel's release picks its profile; an older one picks none") {
        CHECK(profile_for_release("6.1.0-57-amd64") == "v6.1");
        CHECK(profile_for_release("6.12.118+deb12-arm64") == "v6.12");
        CHECK(profile_for_release("6.18.0") == "mainline");
        CHECK(profile_for_release("7.0.1") == "mainline");
        CHECK_FALSE(profile_for_release("6.6.30").has_value());
        CHECK_FALSE(profile_for_release("garbage").has_value());
    }

    TEST_CASE("an initramfs entry is a newc header, the name padded to 4, the data padded to 4") {
        Initramfs fs;
        fs.file("init", "abc", 0755);
        const std::string a = fs.finish();
        REQUIRE(a.size() >= 110);
        CHECK(a.substr(0, 6) == "070701");
        CHECK(a.substr(14, 8) == "000081ED");             // mode: regular file, 0755
        CHECK(a.substr(54, 8) == "00000003");             // file size
        CHECK(a.substr(94, 8) == "00000005");             // name size with its NUL
        CHECK(a.substr(110, 5) == std::string("init\0", 5));
        CHECK(a.substr(116, 3) == "abc");                 // 110 + 5 -> 116 after padding
        CHECK(a.find("TRAILER!!!") != std::string::npos);
        CHECK(a.size() % 4 == 0);
    }

    TEST_CASE("a module's dependencies come first, each once; built-in ones are left out") {
        namespace fs = std::filesystem;
        const fs::path dir = fs::temp_directory_path() / "kvmsim-modules-test";
        fs::remove_all(dir);
        fs::create_directories(dir / "kernel" / "a");
        auto module = [&](const char* name, const char* depends) {
            std::ofstream(dir / "kernel" / "a" / name, std::ios::binary) << std::string("\0license=GPL\0depends=", 21) << depends << std::string("\0", 1);
        };
        module("kvm-amd.ko", "kvm,ccp");
        module("kvm.ko", "irqbypass");
        module("irqbypass.ko", "");
        std::ofstream(dir / "modules.builtin") << "kernel/a/ccp.ko\n";
        std::string error;
        const auto order = module_closure(dir.string(), {"kvm_amd"}, error);
        CHECK(error.empty());
        REQUIRE(order.size() == 3);
        CHECK(order[0] == "kernel/a/irqbypass.ko");
        CHECK(order[1] == "kernel/a/kvm.ko");
        CHECK(order[2] == "kernel/a/kvm-amd.ko");
        module_closure(dir.string(), {"absent"}, error);
        CHECK(error.find("absent") != std::string::npos);
        fs::remove_all(dir);
    }

    TEST_CASE("a step result crosses the wire unchanged") {
        StepResult r;
        r.actual = {{"errno", "EFAULT"}};
        r.skipped = true;
        r.skip_reason = "why";
        r.trace.push_back({"__gfn_to_hva_many", "gfn 0x1"});
        const StepResult back = wire::step_result(nlohmann::json::parse(wire::to_json(r).dump()));
        CHECK(back.actual == r.actual);
        CHECK(back.skipped);
        CHECK(back.skip_reason == "why");
        REQUIRE(back.trace.size() == 1);
        CHECK(back.trace[0].function == "__gfn_to_hva_many");
        CHECK(back.trace[0].detail == "gfn 0x1");
        RunConfig c{"v6.12", {"user-memory2"}, {}, true, "svm"};
        const RunConfig cb = wire::run_config(wire::to_json(c));
        CHECK(cb.profile == "v6.12");
        CHECK(cb.apply == c.apply);
        CHECK(cb.platform == "svm");
    }
}
