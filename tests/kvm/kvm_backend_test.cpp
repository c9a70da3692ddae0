// The kvm backend on the real /dev/kvm: exceptions reach the runner with vector, error code and
// CR2; host mappings that collide with this process are relocated consistently; what cannot be
// reproduced is skipped with its reason. Skips (exit 77) with a message where /dev/kvm is absent.
#include <linux/kvm.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cstring>

#include <cstdio>
#include <string>

#include "sim/backend.h"
#include "sim/kvm/x86/guest_image.h"
#include "sim/kvm/host_platform.h"
#include "sim/kvm/x86/vcpu.h"
#include "sim/runner.h"
#include "sim/scenario.h"

using namespace kvmsim;
using namespace kvmsim::sim;

namespace {

int failed = 0, passed = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    ok ? ++passed : ++failed;
}

// A guest access to a gpa the backend's tables do not map is a #PF the guest takes: its IDT
// handler reports vector 14, the error code (W for a write, P clear) and CR2.
void exceptions_reach_the_runner() {
    using namespace kvmsim::sim::kvmhost;
    const Fd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    const Fd vm(static_cast<int>(::ioctl(kvm.get(), KVM_CREATE_VM, 0)));
    auto* mem = static_cast<std::uint8_t*>(::mmap(nullptr, GuestImage::kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    GuestImage image(std::span(mem, GuestImage::kSize), Gpa(0x40000000));
    kvm_userspace_memory_region r{0, 0, 0x40000000, GuestImage::kSize, reinterpret_cast<std::uint64_t>(mem)};
    check(::ioctl(vm.get(), KVM_SET_USER_MEMORY_REGION, &r) == 0, "backend slot created");
    const long run_size = ::ioctl(kvm.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    Vcpu vcpu(Fd(static_cast<int>(::ioctl(vm.get(), KVM_CREATE_VCPU, 0))), static_cast<std::size_t>(run_size));
    const auto err = vcpu.configure(kvm);
    check(!err, "vCPU in 64-bit mode" + (err ? ": " + *err : std::string()));
    HostLayout layout;
    for (const bool write : {false, true}) {
        AccessRequest req{write ? GuestOp::Write : GuestOp::Read, 0x80000010, 4, 0x1234, 0};
        const AccessOutcome out = vcpu.access(image.identity_context(req.op, 4), req, layout);
        const bool one = out.result.events.size() == 1 && out.result.events[0].kind == VcpuEvent::Kind::Exception;
        check(one && out.result.events[0].exception.vector == 14 && out.result.events[0].exception.error_code == (write ? 2u : 0u) &&
                  out.result.events[0].exception.cr2 == 0x80000010,
              std::string("unmapped ") + (write ? "write" : "read") + " -> #PF, error code " + (write ? "2" : "0") + ", CR2 0x80000010");
    }
    image.map_identity(Gpa(0x80000000), 0x1000);
    AccessRequest req{GuestOp::Read, 0x80000010, 4, 0, 0xaabbccdd};
    const AccessOutcome out = vcpu.access(image.identity_context(GuestOp::Read, 4), req, layout);
    check(!out.result.events.empty() && out.result.events[0].exit == Exit::Mmio && out.result.completed && out.result.data == 0xaabbccdd,
          "once mapped, the same read is an MMIO exit (no slot) answered with the reply");
    ::munmap(mem, GuestImage::kSize);
}

std::vector<KernelRun> run(const nlohmann::json& doc) {
    const Scenario s = parse_scenario(doc, "test");
    auto backend = make_kvm_backend();
    return run_scenario(s, *backend, {});
}

// The scenario's hva is taken by this process, so the backend moves the span and translates
// every scenario address (named, numeric, userspace_addr) the same way.
void relocation_is_consistent() {
    const std::uint64_t hva = 0x7e2000000000;
    void* squatter = ::mmap(reinterpret_cast<void*>(hva), 0x1000, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check(squatter == reinterpret_cast<void*>(hva), "this process occupies the scenario's hva");
    const nlohmann::json doc = {
        {"name", "t"}, {"description", "d"}, {"vm", {{"platform", "pvm"}}},
        {"host", {{"mmap", {{{"name", "ram"}, {"hva", "0x7e2000000000"}, {"size", "64K"}, {"prot", "rw"}}}}}},
        {"steps",
         {{{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", 0}, {"guest_phys_addr", 0}, {"memory_size", "64K"}, {"userspace_addr", "0x7e2000000000"}, {"expect", 0}},
          {{"op", "KVM_CREATE_VCPU"}, {"id", 0}, {"expect", 0}},
          {{"op", "guest_write"}, {"vcpu", 0}, {"gpa", "0x2010"}, {"size", 4}, {"data", "0xfeedf00d"}, {"expect", {{"data", "0xfeedf00d"}}}},
          {{"op", "host_read"}, {"hva", "ram+0x2010"}, {"size", 4}, {"expect", {{"data", "0xfeedf00d"}}}},
          {{"op", "host_read"}, {"hva", "0x7e2000002010"}, {"size", 4}, {"expect", {{"data", "0xfeedf00d"}}}}}}};
    const auto runs = run(doc);
    bool all = runs.size() == 1 && !runs[0].setup_error && runs[0].steps.size() == 5;
    for (const auto& st : runs[0].steps) all = all && !st.skipped && !st.difference;
    check(all, "relocated run: the guest's write is seen at the scenario's named and numeric hva");
    std::uint32_t untouched = 1;
    std::memcpy(&untouched, squatter, 4);
    check(untouched == 0, "the squatting page of this process was not written");
    ::munmap(squatter, 0x1000);
}

void unreproducible_steps_are_skipped() {
    nlohmann::json doc = {{"name", "t"}, {"description", "d"}, {"kernels", {"v3.6", "mainline"}},
                          {"steps", {{{"op", "KVM_CHECK_EXTENSION"}, {"cap", "KVM_CAP_READONLY_MEM"}, {"expect_on", {{"v3.6", 0}}}, {"expect", 1}},
                                     {{"op", "kvm_call"}, {"fn", "gfn_to_hva"}, {"gfn", 0}}}}};
    const auto runs = run(doc);
    check(runs.size() == 2 && runs[0].steps[0].skipped && !runs[0].steps[0].difference &&
              runs[0].steps[0].skip_reason.find("v3.6") != std::string::npos,
          "a v3.6 run is skipped, naming the profile");
    check(runs.size() == 2 && !runs[1].steps[0].skipped && !runs[1].steps[0].difference, "the mainline run compares KVM_CAP_READONLY_MEM");
    check(runs.size() == 2 && runs[1].steps[1].skipped && runs[1].steps[1].skip_reason.find("kernel-internal") != std::string::npos,
          "kvm_call is skipped as kernel-internal");
}


// The VMM steps run on the kernel through the same code as on the model: the flash's read-only
// slot comes and goes with its read mode, and each MMIO exit of a load that crosses a page goes
// to the device that owns it before the next KVM_RUN (kvmtool's loop), nothing skipped.
void vmm_steps_run_on_the_kernel() {
    using J = nlohmann::json;
    const J slot0 = {{"slot", 0}, {"guest_phys_addr", 0}, {"memory_size", "1M"}, {"flags", 0}};
    const J flash_slot = {{"slot", 1}, {"guest_phys_addr", "0x2000000"}, {"memory_size", "64K"}, {"userspace_addr", "0x7e3010000000"}, {"flags", "0x2"}};
    const J doc = {
        {"name", "t"}, {"description", "d"}, {"vm", {{"platform", "pvm"}}},
        {"host", {{"mmap", {{{"name", "ram"}, {"hva", "0x7e3000000000"}, {"size", "1M"}, {"prot", "rw"}},
                            {{"name", "flash"}, {"hva", "0x7e3010000000"}, {"size", "64K"}, {"prot", "rw"}, {"flags", {"shared"}}}}}}},
        {"steps",
         {{{"op", "host_write"}, {"hva", "flash+0x10"}, {"size", 4}, {"data", "0x5a5a1234"}, {"expect", 0}},
          {{"op", "vmm_register_mem"}, {"gpa", 0}, {"size", "1M"}, {"hva", "ram"}, {"type", "RAM"}, {"expect", {{"ret", 0}}}},
          {{"op", "vmm_cfi_flash"}, {"hva", "flash"}, {"file_size", "64K"}, {"expect", {{"ret", 0}, {"memslots", {slot0, flash_slot}}}}},
          {{"op", "vmm_scratch_device"}, {"gpa", "0x10000000"}, {"size", "4K"}, {"expect", {{"ret", 0}}}},
          {{"op", "vmm_scratch_device"}, {"gpa", "0x10001000"}, {"size", "4K"}, {"expect", {{"ret", 0}}}},
          {{"op", "KVM_CREATE_VCPU"}, {"id", 0}, {"expect", 0}},
          {{"op", "vmm_guest_read"}, {"vcpu", 0}, {"gpa", "0x2000010"}, {"size", 4}, {"expect", {{"data", "0x5a5a1234"}, {"exits", J::array()}}}},
          {{"op", "vmm_guest_write"}, {"vcpu", 0}, {"gpa", "0x2000000"}, {"size", 4}, {"data", "0x70"},
           {"expect", {{"exits", {{{"device", "cfi-flash"}, {"is_write", true}}}}, {"memslots", {slot0}}, {"flash", {{"read_mode", "READ_STATUS_REG"}, {"mapped", false}}}}}},
          {{"op", "vmm_guest_read"}, {"vcpu", 0}, {"gpa", "0x2000010"}, {"size", 4},
           {"expect", {{"data", "0x800080"}, {"exits", {{{"device", "cfi-flash"}, {"reply", "0x800080"}}}}}}},
          {{"op", "vmm_guest_write"}, {"vcpu", 0}, {"gpa", "0x2000000"}, {"size", 4}, {"data", "0xff"}, {"expect", {{"memslots", {slot0, flash_slot}}}}},
          {{"op", "vmm_guest_write"}, {"vcpu", 0}, {"gpa", "0x10000ffc"}, {"size", 4}, {"data", "0xaabbccdd"}, {"expect", {{"completed", true}}}},
          {{"op", "vmm_guest_write"}, {"vcpu", 0}, {"gpa", "0x10001000"}, {"size", 4}, {"data", "0x11223344"}, {"expect", {{"completed", true}}}},
          {{"op", "vmm_guest_read"}, {"vcpu", 0}, {"gpa", "0x10000ffe"}, {"size", 4},
           {"expect", {{"data", "0x3344aabb"}, {"exits", {{{"phys_addr", "0x10000ffe"}, {"len", 2}, {"reply", "0xaabb"}}, {{"phys_addr", "0x10001000"}, {"len", 2}, {"reply", "0x3344"}}}}}}}}}};
    const auto runs = run(doc);
    bool all = runs.size() == 1 && !runs[0].setup_error && runs[0].steps.size() == doc["steps"].size();
    std::string why;
    if (all)
        for (std::size_t i = 0; i < runs[0].steps.size(); ++i) {
            const auto& st = runs[0].steps[i];
            if (st.skipped || st.difference) {
                all = false;
                why += " step " + std::to_string(i) + ": " + (st.skipped ? st.skip_reason : *st.difference);
            }
        }
    check(all, "VMM steps on /dev/kvm: flash slot follows the read mode, each MMIO exit answered by its device in turn" + why);
}

}  // namespace

int main() {
    const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
    if (!host.usable) {
        std::printf("SKIP: %s\n", host.why_not.c_str());
        return 77;
    }
    std::printf("host: Linux %s, platform %s (%s)\n", host.kernel.c_str(), host.platform.c_str(), host.platform_why.c_str());
    exceptions_reach_the_runner();
    relocation_is_consistent();
    unreproducible_steps_are_skipped();
    vmm_steps_run_on_the_kernel();
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
