// KVM_CHECK_EXTENSION as 6.18 answers it: the generic switch of virt/kvm/kvm_main.c first, then
// the arch; every UAPI name known; a cap whose answer depends on what the model does not
// describe is refused when the scenario is read (exit 2), never answered 0.
#include <doctest/doctest.h>

#include "model/arm64/arm64_arch.h"
#include "sim/scenario.h"
#include "support/kvm_test.h"
#include "support/scenario_test.h"

using namespace kvmsim;
using kvmsim::test::Vm;

namespace {

std::unique_ptr<kvm> arm64_vm(HostMm& mm, std::string_view profile, bool realm) {
    const Profile p = *find_profile(profile);
    const Arm64HostOptions host = arm64_host_options(Arm64Platform::Rme);
    const Arm64VmTypeResult t = kvm_arch_init_vm(p, host, arm64_vm_type_word(p, realm, 48));
    REQUIRE(t.type);
    return std::make_unique<kvm>(mm, p, std::make_unique<Arm64Arch>(mm, host, *t.type));
}

nlohmann::json check_cap(const char* arch, nlohmann::json cap) {
    return {{"name", "t"}, {"description", "t"}, {"arch", arch}, {"steps", {{{"op", "KVM_CHECK_EXTENSION"}, {"cap", cap}}}}};
}

}  // namespace

TEST_SUITE("capabilities") {

TEST_CASE("every KVM_CAP_ name of 6.18's UAPI header resolves to its number") {
    CHECK(cap_from_string("KVM_CAP_IRQCHIP") == Cap::Irqchip);
    CHECK(cap_from_string("KVM_CAP_X86_SMM") == static_cast<Cap>(117));
    CHECK(cap_from_string("KVM_CAP_CHECK_EXTENSION_VM") == static_cast<Cap>(105));
    CHECK(cap_from_string("KVM_CAP_GUEST_MEMFD_FLAGS") == static_cast<Cap>(244));
    CHECK(to_string(static_cast<Cap>(206)) == "KVM_CAP_VM_MOVE_ENC_CONTEXT_FROM");  // the lock RFC's name is not 206's
    CHECK_FALSE(cap_from_string("KVM_CAP_NOT_A_CAP"));
    unsigned named = 0;
    for (std::uint32_t n = 0; n <= kLastUapiCap; ++n) named += cap_in_uapi(static_cast<Cap>(n));
    CHECK(named == 239);  // 0-244 less the numbers never assigned (5, 17, 19, 20, 27, 28)
}

TEST_CASE("x86: KVM_CAP_MAX_VCPU_ID is KVM_MAX_VCPU_IDS, not 0") {
    Vm vm("mainline", Platform::Pvm);
    CHECK(vm.k.check_extension(Cap::MaxVcpuId, CheckOn::VmFd) == 4096);
    CHECK(vm.k.check_extension(Cap::MaxVcpuId, CheckOn::SystemFd) == 4096);
}

TEST_CASE("x86: the generic answers come from kvm_main.c, the dirty rings from x86's Kconfig") {
    Vm vm("mainline", Platform::Pvm);
    CHECK(vm.k.check_extension(Cap::CheckExtensionVm) == 1);
    CHECK(vm.k.check_extension(Cap::IrqRouting) == 4096);
    CHECK(vm.k.check_extension(Cap::CoalescedMmio) == 2);
    CHECK(vm.k.check_extension(Cap::DirtyLogRing) == 1 << 20);
    CHECK(vm.k.check_extension(Cap::DirtyLogRingAcqRel) == 1 << 20);
    CHECK(vm.k.check_extension(Cap::DirtyLogRingWithBitmap) == 0);
}

TEST_CASE("x86: X86_SMM needs CONFIG_KVM_SMM and a VM whose state KVM can see") {
    CHECK(Vm("mainline", Platform::Pvm).k.check_extension(Cap::X86Smm) == 0);
    CHECK(Vm("mainline", Platform::Vmx).k.check_extension(Cap::X86Smm) == 1);
    CHECK(Vm("mainline", Platform::Svm, VmType::SevEs).k.check_extension(Cap::X86Smm, CheckOn::VmFd) == 0);
    CHECK(Vm("mainline", Platform::Svm, VmType::SevEs).k.check_extension(Cap::X86Smm, CheckOn::SystemFd) == 1);
}

TEST_CASE("x86: PRE_FAULT_MEMORY is tdp_enabled") {
    CHECK(Vm("mainline", Platform::Vmx).k.check_extension(Cap::PreFaultMemory) == 1);
    CHECK(Vm("mainline", Platform::VmxShadow).k.check_extension(Cap::PreFaultMemory) == 0);
    CHECK(Vm("mainline", Platform::Pvm).k.check_extension(Cap::PreFaultMemory) == 0);
}

TEST_CASE("x86: a cap that depends on unmodelled hardware has no answer, and a scenario naming it is refused") {
    Vm vm("mainline", Platform::Pvm);
    CHECK_FALSE(vm.k.check_extension(Cap::Hyperv).has_value());
    CHECK_FALSE(x86_cap_modelled(Cap::Hyperv));
    CHECK(x86_cap_modelled(Cap::MaxVcpuId));
    CHECK(kvmsim::test::error_path(check_cap("x86_64", "KVM_CAP_HYPERV")) == "/steps/0/cap");
    CHECK(kvmsim::test::error_path(check_cap("x86_64", 44)) == "/steps/0/cap");
    CHECK(kvmsim::test::error_path(check_cap("arm64", "KVM_CAP_ARM_SVE")) == "/steps/0/cap");
}

TEST_CASE("x86: a profile before 6.8 gives no 6.18 answer for a cap it has no history for") {
    Vm vm("v3.7", Platform::Vmx);
    CHECK_FALSE(vm.k.check_extension(Cap::HaltPoll).has_value());
    CHECK(vm.k.check_extension(Cap::ReadonlyMem) == 1);
    CHECK(vm.k.check_extension(Cap::ArmPsci) == 0);  // not an x86 cap in any version
}

TEST_CASE("arm64: COALESCED_MMIO is generic (CONFIG_KVM_MMIO) at page offset 1") {
    HostMm mm;
    CHECK(arm64_vm(mm, "mainline", false)->check_extension(Cap::CoalescedMmio) == 1);
    CHECK(arm64_vm(mm, "mainline", false)->check_extension(Cap::DirtyLogRing) == 0);
    CHECK(arm64_vm(mm, "mainline", false)->check_extension(Cap::DirtyLogRingWithBitmap) == 1);
}

TEST_CASE("arm64: a realm's allow-list (CCA v12) cannot hide a generic cap") {
    HostMm mm;
    auto realm = arm64_vm(mm, "cca-v12", true);
    CHECK(realm->check_extension(Cap::UserMemory2) == 1);
    CHECK(realm->check_extension(Cap::CoalescedMmio) == 1);
    CHECK(realm->check_extension(Cap::OneReg) == 0);  // an arch cap: hidden
}

TEST_CASE("arm64: MSI_DEVID is 0 on a VM without an ITS, EINVAL on /dev/kvm") {
    HostMm mm;
    auto vm = arm64_vm(mm, "mainline", false);
    CHECK(vm->check_extension(Cap::MsiDevid, CheckOn::VmFd) == 0);
    CHECK(vm->check_extension(Cap::MsiDevid, CheckOn::SystemFd) == -static_cast<long>(Errno::Einval));
}

TEST_CASE("arm64: the hardware breakpoint counts are hidden from realms from CCA v8's 08/43 on") {
    HostMm mm;
    const Arm64HostOptions host = arm64_host_options(Arm64Platform::Rme);
    CHECK(arm64_vm(mm, "cca-v7", true)->check_extension(Cap::GuestDebugHwBps) == host.hw_bps);
    CHECK(arm64_vm(mm, "cca-v10", true)->check_extension(Cap::GuestDebugHwBps) == 0);
    CHECK(arm64_vm(mm, "cca-v10", true)->check_extension(Cap::GuestDebugHwWps) == 0);
    CHECK(arm64_vm(mm, "cca-v12", true)->check_extension(Cap::GuestDebugHwWps) == 0);
    CHECK(arm64_vm(mm, "cca-v10", false)->check_extension(Cap::GuestDebugHwBps) == host.hw_bps);
}

}  // TEST_SUITE
