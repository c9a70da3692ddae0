// The arm64 model: KVM_CREATE_VM type words, per-VM capabilities across CCA versions, the
// memslot lock RFC's decision order, and stage-2 aborts. Expectations cite the reference
// (/work/shared/reference/arm64-and-kvmtool.md) or the seed patches.
#include <doctest/doctest.h>

#include <cstring>

#include "model/arm64/arm64_arch.h"
#include "model/arm64/guest_access.h"
#include "model/arm64/lock_memslot.h"
#include "model/arm64/stage2.h"
#include "support/kvm_test.h"

using namespace kvmsim;
using kvmsim::test::OK;

namespace {

constexpr Hva kRam{0x7f0000000000};
constexpr std::uint64_t kRamGpa = 0x40000000;

// An arm64 VM on one profile: 64K of RAM at kRamGpa in slot 0, vCPU 0 created and initialised.
struct Arm64Vm {
    HostMm mm;
    Arm64Arch* arch = nullptr;
    std::unique_ptr<kvm> k;

    explicit Arm64Vm(std::string_view profile, bool realm = false, unsigned ipa_bits = 0, Arm64Platform platform = Arm64Platform::Rme) {
        const Profile p = *find_profile(profile);
        const Arm64HostOptions host = arm64_host_options(platform);
        const Arm64VmTypeResult t = kvm_arch_init_vm(p, host, arm64_vm_type_word(p, realm, ipa_bits));
        REQUIRE(t.type);
        auto a = std::make_unique<Arm64Arch>(mm, host, *t.type);
        arch = a.get();
        k = std::make_unique<kvm>(mm, p, std::move(a));
        REQUIRE(mm.mmap(kRam, 0x10000, Prot{.read = true, .write = true}, MappingKind::Anonymous, "ram") == OK);
        REQUIRE(k->set_user_memory_region({0, 0, kRamGpa, 0x10000, kRam.value()}) == OK);
        REQUIRE(k->create_vcpu(0) == OK);
        REQUIRE(kvm_arch_vcpu_ioctl_vcpu_init(*k, *arch, *k->vcpu(0)) == OK);
    }
    KvmResult lock(std::uint64_t slot, std::uint64_t perm, std::uint32_t action = lock_action::Lock) {
        return k->enable_cap(static_cast<Cap>(lock_cap_number(k->profile())), action, {slot, perm, 0, 0});
    }
    Arm64GuestAccessResult access(std::uint64_t ipa, Arm64AccessKind kind, bool isv = true) {
        Arm64GuestAccess a;
        a.ipa = Gpa(ipa);
        a.kind = kind;
        a.isv = isv;
        a.data = 0x5a;
        return arm64_guest_access(*k, *arch, *k->vcpu(0), a);
    }
};

}  // namespace

TEST_SUITE("arm64") {

TEST_CASE("kvm_arch_init_vm: IPA size bits 7:0, 0 meaning 40, limits 32..host (reference 1.5)") {
    const Profile p = *find_profile("mainline");
    const Arm64HostOptions host = arm64_host_options(Arm64Platform::Rme);
    CHECK(kvm_arch_init_vm(p, host, 0).type->ipa_bits == 40);
    CHECK(kvm_arch_init_vm(p, host, 0x30).type->ipa_bits == 48);
    CHECK(kvm_arch_init_vm(p, host, 0x31).error == Errno::Einval);
    CHECK(kvm_arch_init_vm(p, host, 0x1f).error == Errno::Einval);
    CHECK_FALSE(kvm_arch_init_vm(p, host, 0x100).type);  // no machine type upstream
}

TEST_CASE("kvm_arch_init_vm: REALM bit and no-RMM errno per CCA version (reference 1.5, section 8 q1)") {
    const Arm64HostOptions no_rmm = arm64_host_options(Arm64Platform::NoRme);
    const Arm64HostOptions rmm = arm64_host_options(Arm64Platform::Rme);
    CHECK(kvm_arch_init_vm(*find_profile("cca-v7"), no_rmm, 0x100).error == Errno::Eperm);
    CHECK(kvm_arch_init_vm(*find_profile("cca-v12"), no_rmm, 0x100).error == Errno::Einval);
    CHECK(kvm_arch_init_vm(*find_profile("cca-v7"), rmm, 0x100).type->realm);
    CHECK_FALSE(kvm_arch_init_vm(*find_profile("cca-v14"), rmm, 0x100).type);
    CHECK(kvm_arch_init_vm(*find_profile("cca-v14"), rmm, 1ULL << 30).type->realm);
    CHECK(kvm_arch_init_vm(*find_profile("cca-v14"), rmm, 3ULL << 30).error == Errno::Einval);
}

TEST_CASE("check_extension: READONLY_MEM is 0 only on a realm's VM fd, in every CCA version (seed 003)") {
    for (const char* profile : {"cca-v7", "cca-v10", "cca-v12", "cca-v14"}) {
        CAPTURE(profile);
        Arm64Vm realm(profile, true, 48);
        Arm64Vm normal(profile);
        CHECK(realm.k->check_extension(Cap::ReadonlyMem, CheckOn::VmFd) == 0);
        CHECK(realm.k->check_extension(Cap::ReadonlyMem, CheckOn::SystemFd) == 1);
        CHECK(normal.k->check_extension(Cap::ReadonlyMem, CheckOn::VmFd) == 1);
        CHECK(realm.k->check_extension(Cap::SetGuestDebug, CheckOn::VmFd) == 0);
    }
}

TEST_CASE("check_extension: the v11+ allow-list hides ONE_REG; v14 drops PMU_V3 (reference 1.4)") {
    CHECK(Arm64Vm("cca-v7", true, 48).k->check_extension(Cap::OneReg) == 1);
    CHECK(Arm64Vm("cca-v12", true, 48).k->check_extension(Cap::OneReg) == 0);
    CHECK(Arm64Vm("cca-v12", true, 48).k->check_extension(Cap::ArmPmuV3) == 1);
    CHECK(Arm64Vm("cca-v14", true, 48).k->check_extension(Cap::ArmPmuV3) == 0);
    CHECK(Arm64Vm("cca-v10", true, 48).k->check_extension(Cap::CounterOffset) == 0);
    CHECK(Arm64Vm("cca-v7", true, 48).k->check_extension(Cap::CounterOffset) == 1);
}

TEST_CASE("lock: the seed patch alone answers 0 and refuses everything with EINVAL (seed 004)") {
    Arm64Vm vm("lock-v4-02");
    CHECK(vm.k->check_extension(Cap::ArmLockUserMemoryRegion) == 0);
    CHECK(vm.lock(0, lock_perm::Read).err() == Errno::Einval);
    CHECK(vm.lock(0, 0, lock_action::Unlock).err() == Errno::Einval);
}

TEST_CASE("lock: decision order L1 < L2 < L3 < L5 < L6 < L7 (reference 2.4)") {
    Arm64Vm vm("lock-v4");
    vm.arch->vcpu_arch(0).mutex_held = true;
    CHECK(vm.lock(32767, 0).err() == Errno::Einval);              // L1 before L2
    CHECK(vm.lock(0, 0).err() == Errno::Einval);                  // L2 before L3
    CHECK(vm.lock(9, lock_perm::Read).err() == Errno::Ebusy);     // L3 before L5
    vm.arch->vcpu_arch(0).mutex_held = false;
    CHECK(vm.lock(9, lock_perm::Read).err() == Errno::Einval);    // L5
    CHECK(vm.lock(0, lock_perm::Read) == OK);
    CHECK(vm.lock(0, lock_perm::Read).err() == Errno::Ebusy);     // L7
}

TEST_CASE("lock: v4 refuses after a vCPU ran, v5 allows it; the cap moves from 206 to 207") {
    Arm64Vm v4("lock-v4"), v5("lock-v5");
    CHECK(lock_cap_number(v4.k->profile()) == 206);
    CHECK(lock_cap_number(v5.k->profile()) == 207);
    CHECK(v5.k->check_extension(static_cast<Cap>(206)) == 0);
    (void)v4.access(kRamGpa, Arm64AccessKind::Read);
    (void)v5.access(kRamGpa, Arm64AccessKind::Read);
    CHECK(v4.lock(0, lock_perm::Read).err() == Errno::Ebusy);
    CHECK(v5.lock(0, lock_perm::Read) == OK);
}

TEST_CASE("lock: a locked slot takes no stage-2 fault; changes to it are EBUSY") {
    Arm64Vm vm("lock-v4");
    REQUIRE(vm.lock(0, lock_perm::Read | lock_perm::Write) == OK);
    const auto r = vm.access(kRamGpa + 0x2000, Arm64AccessKind::Write);
    CHECK_FALSE(r.stage2_fault);
    CHECK(r.run.completed);
    CHECK(vm.k->set_user_memory_region({0, 0, kRamGpa, 0, kRam.value()}).err() == Errno::Ebusy);
    CHECK(vm.arch->process().locked_vm == 16);
    CHECK(vm.lock(0, 0, lock_action::Unlock) == OK);
    CHECK(vm.arch->process().locked_vm == 0);
    CHECK(vm.k->set_user_memory_region({0, 0, kRamGpa, 0, kRam.value()}) == OK);
}

TEST_CASE("io_mem_abort: a hole gives KVM_EXIT_MMIO with ISV, ENOSYS without, KVM_EXIT_ARM_NISV once enabled (reference 3.2)") {
    Arm64Vm vm("mainline");
    const auto mmio = vm.access(0x9000000, Arm64AccessKind::Write);
    REQUIRE(mmio.run.events.size() == 1);
    CHECK(mmio.run.events[0].exit == Exit::Mmio);
    const auto nosys = vm.access(0x9000000, Arm64AccessKind::Write, false);
    REQUIRE(nosys.run.events.size() == 1);
    CHECK(nosys.run.events[0].error == Errno::Enosys);
    REQUIRE(vm.k->enable_cap(Cap::ArmNisvToUser, 0, {}) == OK);
    const auto nisv = vm.access(0x9000000, Arm64AccessKind::Write, false);
    REQUIRE(nisv.run.events.size() == 1);
    CHECK(nisv.run.events[0].exit == Exit::ArmNisv);
    // WnR | translation fault at level 1: nothing is mapped in the IPA's GiB, so the walk stops
    // at the start level of a 40-bit IPA space (probed on Debian 6.1 and 6.12 under QEMU).
    CHECK(nisv.run.events[0].arm_nisv.esr_iss == 0x45);
}

TEST_CASE("Stage2: a translation fault names the first level whose entry covers no mapped page") {
    Stage2 s2;
    CHECK(s2.translation_fault_level(Gfn(0x9000), 1) == 1);  // nothing mapped at all
    s2.map(Gfn(0x40000), Stage2Pte{});                          // ipa 0x40000000
    CHECK(s2.translation_fault_level(Gfn(0x9000), 1) == 1);    // another GiB
    CHECK(s2.translation_fault_level(Gfn(0x40400), 1) == 2);   // same GiB, another 2 MiB
    CHECK(s2.translation_fault_level(Gfn(0x40100), 1) == 3);   // same 2 MiB
    CHECK(s2.translation_fault_level(Gfn(0x8000000), 0) == 0); // ipa 512 GiB, from level 0
    s2.unmap(Gfn(0x40000), Gfn(0x40001));
    CHECK(s2.translation_fault_level(Gfn(0x40100), 1) == 1);   // emptied tables are freed
}

TEST_CASE("kvm_handle_guest_abort: a fetch outside every slot injects a prefetch abort") {
    Arm64Vm vm("mainline");
    const auto r = vm.access(0x9000000, Arm64AccessKind::Fetch);
    REQUIRE(r.run.events.size() == 1);
    CHECK(r.run.events[0].kind == VcpuEvent::Kind::Exception);
    CHECK(r.run.events[0].exception.vector == ESR_ELx_EC_IABT_CUR);
}

TEST_CASE("user_mem_abort: a realm's load of a read-only slot fails with EFAULT (forced write fault, reference 1.7)") {
    Arm64Vm vm("cca-v7", true, 48);
    REQUIRE(vm.mm.mmap(Hva(0x7f0010000000), 0x10000, Prot{.read = true, .write = true}, MappingKind::Anonymous, "rom") == OK);
    REQUIRE(vm.k->set_user_memory_region({1, memflag::Readonly, 0, 0x10000, 0x7f0010000000}) == OK);  // accepted despite cap 0
    const auto r = vm.access((1ULL << 47) | 0x10, Arm64AccessKind::Read);
    REQUIRE(r.run.events.size() == 1);
    CHECK(r.run.events[0].error == Errno::Efault);
}

TEST_CASE("realm: protected alias is a zeroed granule in v7, EINVAL from v12; the shared alias is the hva (reference 1.6)") {
    Arm64Vm v7("cca-v7", true, 48), v12("cca-v12", true, 48);
    for (Arm64Vm* vm : {&v7, &v12}) {
        std::array<std::uint8_t, 4> val{0x77, 0, 0, 0};
        REQUIRE(vm->mm.access_remote(kRam, val, true) == OK);
        const auto shared = vm->access((1ULL << 47) | kRamGpa, Arm64AccessKind::Read);
        CHECK(shared.run.completed);
        CHECK(shared.run.data == 0x77);
    }
    const auto p7 = v7.access(kRamGpa, Arm64AccessKind::Read);
    CHECK(p7.run.completed);
    CHECK(p7.run.data == 0);
    const auto p12 = v12.access(kRamGpa, Arm64AccessKind::Read);
    REQUIRE(p12.run.events.size() == 1);
    CHECK(p12.run.events[0].error == Errno::Einval);
}

TEST_CASE("dirty logging: KVM_GET_DIRTY_LOG write-protects what it reports; the next store faults and is logged") {
    Arm64Vm vm("mainline");
    REQUIRE(vm.k->set_user_memory_region({0, memflag::LogDirtyPages, kRamGpa, 0x10000, kRam.value()}) == OK);
    CHECK(vm.access(kRamGpa + 0x1000, Arm64AccessKind::Write).stage2_fault);
    CHECK_FALSE(vm.access(kRamGpa + 0x1000, Arm64AccessKind::Write).stage2_fault);
    CHECK(vm.k->get_dirty_log(0).bitmap.at(0) == 0b10);
    CHECK(vm.access(kRamGpa + 0x1000, Arm64AccessKind::Write).stage2_fault);
    CHECK(vm.k->get_dirty_log(0).bitmap.at(0) == 0b10);
}

TEST_CASE("dirty logging: KVM_CLEAR_DIRTY_LOG write-protects from the lowest to the highest page of each word") {
    Arm64Vm vm("mainline");
    REQUIRE(vm.k->enable_cap(Cap::ManualDirtyLogProtect2, 0, {1, 0, 0, 0}) == OK);
    REQUIRE(vm.k->set_user_memory_region({0, memflag::LogDirtyPages, kRamGpa, 0x10000, kRam.value()}) == OK);
    for (std::uint64_t page : {1, 2, 3}) CHECK(vm.access(kRamGpa + page * 0x1000, Arm64AccessKind::Write).stage2_fault);
    REQUIRE(vm.k->clear_dirty_log(0, 0, 16, std::vector<std::uint64_t>{0b1010}) == OK);
    CHECK(vm.k->get_dirty_log(0).bitmap.at(0) == 0b0100);
    const Gfn base = gpa_to_gfn(Gpa(kRamGpa));
    CHECK_FALSE(vm.arch->stage2().lookup(base + 2)->prot.w);  // not cleared, but inside the range
    CHECK(vm.access(kRamGpa + 0x2000, Arm64AccessKind::Write).stage2_fault);
}

TEST_CASE("dirty logging: with INITIALLY_SET turning logging on does not write-protect the slot") {
    Arm64Vm vm("mainline");
    REQUIRE(vm.k->enable_cap(Cap::ManualDirtyLogProtect2, 0, {3, 0, 0, 0}) == OK);
    CHECK(vm.access(kRamGpa + 0x1000, Arm64AccessKind::Write).stage2_fault);
    REQUIRE(vm.k->set_user_memory_region({0, memflag::LogDirtyPages, kRamGpa, 0x10000, kRam.value()}) == OK);
    CHECK_FALSE(vm.access(kRamGpa + 0x1000, Arm64AccessKind::Write).stage2_fault);
    REQUIRE(vm.k->clear_dirty_log(0, 0, 16, std::vector<std::uint64_t>{0b10}) == OK);
    CHECK(vm.access(kRamGpa + 0x1000, Arm64AccessKind::Write).stage2_fault);
}

}  // TEST_SUITE
