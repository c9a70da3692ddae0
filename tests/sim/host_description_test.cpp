// The host description: machines of this project differ (KVM_CAP_GUEST_MEMFD 1 or 0, guest
// MAXPHYADDR 46 or 48, the number of online CPUs). The probe is faked here with each answer, to
// show that the model follows the description, that scenarios which depend on it pin it, and that
// the kvm backend would skip a pinned scenario on a machine that differs.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>

#include "model/kvm/kvm.h"
#include "model/x86/gva_access.h"
#include "model/x86/x86_arch.h"
#include "sim/backend.h"
#include "sim/host_description.h"
#include "sim/runner.h"
#include "support/scenario_test.h"

using namespace kvmsim;
using namespace kvmsim::sim;

namespace {

HostDescription fake_host(long guest_memfd_cap, unsigned maxphyaddr, long cpus, long multi_as = 0) {
    return describe_host(HostFacts{.guest_memfd_cap = guest_memfd_cap, .cpuid_maxphyaddr = maxphyaddr, .cpuinfo_phys_bits = maxphyaddr, .online_cpus = cpus,
                                   .multi_address_space_cap = multi_as});
}

long cap(const HostDescription& host, Cap c, CheckOn on) {
    HostMm mm;
    const kvm k(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Pvm, VmType::Default, host));
    return k.check_extension(c, on).value();
}

std::vector<std::string> shipped_scenarios() {
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(KVMSIM_SCENARIOS_DIR))
        if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path().string());
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TEST_SUITE("host_description") {

TEST_CASE("the probe's facts become the description: KVM_CAP_GUEST_MEMFD 0 means a kernel without guest_memfd") {
    CHECK_FALSE(fake_host(0, 48, 2).guest_memfd);
    CHECK(fake_host(1, 48, 2).guest_memfd);
    // raw_ioctl gives -errno; an error is not support.
    CHECK_FALSE(fake_host(-22, 48, 2).guest_memfd);
    CHECK(fake_host(1, 46, 2).guest_maxphyaddr == 46u);
    CHECK(fake_host(1, 46, 8).online_cpus == 8u);
    CHECK(fake_host(1, 46, -1).online_cpus == 1u);  // sysconf failed: at least the CPU running us
}

TEST_CASE("KVM_CAP_GUEST_MEMFD follows CONFIG_KVM_GUEST_MEMFD on both fds") {
    for (long built : {0L, 1L}) {
        CAPTURE(built);
        CHECK(cap(fake_host(built, 48, 2), Cap::GuestMemfd, CheckOn::VmFd) == built);
        CHECK(cap(fake_host(built, 48, 2), Cap::GuestMemfd, CheckOn::SystemFd) == built);
    }
    CHECK(cap(HostDescription{}, Cap::GuestMemfd, CheckOn::VmFd) == 1);  // the documented default
    HostMm mm;
    const kvm built(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Pvm, VmType::Default, fake_host(1, 48, 2)));
    CHECK_FALSE(built.check_extension(Cap::GuestMemfdFlags).has_value());  // not modelled on x86 (docs/scenarios.md)
    CHECK_FALSE(x86_cap_modelled(Cap::GuestMemfdFlags));
}

TEST_CASE("KVM_CAP_NR_VCPUS is min(online CPUs, KVM_MAX_VCPUS)") {
    CHECK(cap(fake_host(1, 48, 2), Cap::NrVcpus, CheckOn::VmFd) == 2);
    CHECK(cap(fake_host(1, 48, 8), Cap::NrVcpus, CheckOn::SystemFd) == 8);
    CHECK(cap(fake_host(1, 48, 5000), Cap::NrVcpus, CheckOn::VmFd) == 1024);
}

TEST_CASE("KVM_CAP_MULTI_ADDRESS_SPACE and as_id 1 follow CONFIG_KVM_SMM (what /dev/kvm answers without a VM)") {
    CHECK(fake_host(1, 48, 2, 0).kvm_smm == false);
    CHECK(fake_host(1, 48, 2, 2).kvm_smm == true);
    CHECK(cap(fake_host(1, 48, 2, 0), Cap::MultiAddressSpace, CheckOn::SystemFd) == 0);
    CHECK(cap(fake_host(1, 48, 2, 2), Cap::MultiAddressSpace, CheckOn::SystemFd) == 2);
    CHECK(cap(fake_host(1, 48, 2, 2), Cap::MultiAddressSpace, CheckOn::VmFd) == 2);
    CHECK(cap(HostDescription{}, Cap::MultiAddressSpace, CheckOn::VmFd) == 0);  // unset: the pvm platform's, no SMM
}

TEST_CASE("KVM_CAP_MAX_VCPUS and MAX_VCPU_ID follow KVM_MAX_VCPUS (CONFIG_KVM_MAX_NR_VCPUS)") {
    for (long n : {1024L, 4096L}) {
        CAPTURE(n);
        HostFacts f;
        f.max_vcpus_cap = n;
        const HostDescription h = describe_host(f);
        CHECK(h.max_vcpus == static_cast<unsigned>(n));
        CHECK(cap(h, Cap::MaxVcpus, CheckOn::SystemFd) == n);
        CHECK(cap(h, Cap::MaxVcpuId, CheckOn::VmFd) == 4 * n);  // KVM_VCPU_ID_RATIO
    }
    CHECK(cap(HostDescription{}, Cap::MaxVcpuId, CheckOn::SystemFd) == 4096);  // the reference host
}

TEST_CASE("KVM_CAP_MEMORY_ATTRIBUTES follows CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES; a default VM has no private memory") {
    for (long attrs : {0L, 8L}) {
        CAPTURE(attrs);
        HostFacts f;
        f.memory_attributes_cap = attrs;
        const HostDescription h = describe_host(f);
        CHECK(h.memory_attributes == (attrs != 0));
        CHECK(cap(h, Cap::MemoryAttributes, CheckOn::SystemFd) == attrs);
        CHECK(cap(h, Cap::MemoryAttributes, CheckOn::VmFd) == 0);
        HostMm mm;
        const kvm snp(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Svm, VmType::Snp, h));
        CHECK(snp.check_extension(Cap::MemoryAttributes, CheckOn::VmFd).value() == attrs);  // kvm_arch_has_private_mem()
    }
}

TEST_CASE("KVM_CAP_VM_TYPES is what the host's vendor module offers, within the platform's") {
    HostFacts f;
    f.vm_types_cap = 1;  // QEMU's TCG machine: SVM without SEV
    HostMm mm;
    const kvm tcg(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Svm, VmType::Default, describe_host(f)));
    CHECK(tcg.check_extension(Cap::VmTypes, CheckOn::SystemFd).value() == 1);
    HostMm mm2;
    const kvm epyc(mm2, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Svm, VmType::Default, HostDescription{}));
    CHECK(epyc.check_extension(Cap::VmTypes, CheckOn::SystemFd).value() == 0x19);  // unset: default, SEV-ES, SNP
    f.vm_types_cap = 0;  // before 6.8 the cap is unknown: only the default type
    CHECK(describe_host(f).vm_types == 1u);
}

TEST_CASE("the description crosses the QEMU wire unchanged") {
    HostFacts f;
    f.guest_memfd_cap = 1;
    f.max_vcpus_cap = 4096;
    f.memory_attributes_cap = 8;
    f.vm_types_cap = 1;
    f.cpuid_la57 = false;
    f.multi_address_space_cap = 2;
    f.cpuinfo_phys_bits = 40;
    const HostDescription h = describe_host(f);
    const HostDescription back = host_from_json(host_to_json(h));
    CHECK(describe(back) == describe(h));
    CHECK_THROWS_AS((void)host_from_json(nlohmann::json::object()), nlohmann::json::exception);
}

TEST_CASE("the guest's MAXPHYADDR sets the walker's reserved bits") {
    CHECK(guest_cpuid(Platform::Pvm).maxphyaddr == 48u);  // default: the reference host's CPUID
    CHECK(guest_cpuid(Platform::Pvm, fake_host(1, 46, 2)).maxphyaddr == 46u);
    CHECK(guest_cpuid(Platform::Vmx, fake_host(1, 48, 2)).maxphyaddr == 48u);
}

TEST_CASE("vm.host pins override the host compared with; the kvm backend skips a machine that differs") {
    const Scenario s = parse_scenario({{"name", "t"}, {"description", "t"}, {"vm", {{"platform", "pvm"}, {"host", {{"guest_memfd", true}, {"online_cpus", 2}}}}}, {"steps", nlohmann::json::array()}}, "t.json");
    CHECK(pinned(fake_host(0, 46, 8), s.host_pins).guest_memfd);
    CHECK(pinned(fake_host(0, 46, 8), s.host_pins).online_cpus == 2u);
    CHECK(pinned(fake_host(0, 46, 8), s.host_pins).guest_maxphyaddr == 46u);  // not pinned: the host's
    CHECK_FALSE(pin_conflict(s.host_pins, fake_host(1, 46, 2)));
    const auto why = pin_conflict(s.host_pins, fake_host(0, 46, 2));
    REQUIRE(why);
    CHECK(why->find("guest_memfd 1 (this host: 0)") != std::string::npos);
}

TEST_CASE("vm.host refuses what no host has") {
    using kvmsim::test::error_path;
    auto doc = [](nlohmann::json host) { return nlohmann::json{{"name", "t"}, {"description", "t"}, {"vm", {{"host", host}}}, {"steps", nlohmann::json::array()}}; };
    CHECK(error_path(doc({{"guest_memfd", 1}})) == "/vm/host/guest_memfd");
    CHECK(error_path(doc({{"guest_maxphyaddr", 53}})) == "/vm/host/guest_maxphyaddr");
    CHECK(error_path(doc({{"online_cpus", 0}})) == "/vm/host/online_cpus");
    CHECK(error_path(doc({{"cpus", 2}})) == "/vm/host/cpus");
    CHECK(error_path(doc({{"vm_types", 2}})) == "/vm/host/vm_types");  // without the default type
    CHECK(error_path(doc({{"max_vcpus", 0}})) == "/vm/host/max_vcpus");
    CHECK(error_path(doc({{"guest_la57", "yes"}})) == "/vm/host/guest_la57");
    CHECK(error_path(doc(7)) == "/vm/host");
}

// What `kvmsim diff` runs on the model side, for hosts answering each way: every shipped
// scenario must still hold, so ./tools/test stays green whichever way the machine answers.
TEST_CASE("every shipped scenario holds on the model whichever way the host answers") {
    const auto files = shipped_scenarios();
    REQUIRE(files.size() > 50);
    for (long gmem : {0L, 1L})
        for (unsigned maxphyaddr : {46u, 48u})
            for (long cpus : {2L, 8L}) {
                RunOptions o;
                o.host = fake_host(gmem, maxphyaddr, cpus);
                // CONFIG_KVM_SMM goes with the platform a scenario names (vmx has it, pvm not);
                // diff runs the model on the host's own platform, where the probe agrees.
                o.host->kvm_smm.reset();
                // So do the VM types KVM offers and LA57 (the probe's answers are the platform's there).
                o.host->vm_types.reset();
                o.host->guest_la57.reset();
                auto backend = make_model_backend();
                for (const auto& f : files) {
                    const Scenario s = load_scenario(f);
                    for (const KernelRun& run : run_scenario(s, *backend, o)) {
                        CAPTURE(f);
                        CAPTURE(run.profile);
                        CAPTURE(describe(*o.host));
                        CHECK(run.failures() == 0);
                    }
                }
            }
}

}  // TEST_SUITE
