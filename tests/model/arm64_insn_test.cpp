// The arm64 instructions beyond plain loads and stores: CASAL, DC ZVA and AT S1E1R through stage 2.
// Expectations from the Arm ARM (ESR_ELx ISS for a Data Abort: WnR of an atomic, CM, ISV; PAR_EL1)
// and arch/arm64/kvm/mmu.c (kvm_handle_guest_abort(), user_mem_abort(), kvm_is_write_fault()),
// as page_fault_test.c counts them.
#include <doctest/doctest.h>

#include <cstring>

#include "model/arm64/arm64_arch.h"
#include "model/arm64/at.h"
#include "model/arm64/guest_access.h"
#include "model/arm64/stage1_builder.h"
#include "model/arm64/stage2.h"
#include "support/kvm_test.h"

using namespace kvmsim;
using kvmsim::test::OK;

namespace {

constexpr Hva kRam{0x7f0000000000};
constexpr std::uint64_t kRamGpa = 0x40000000;
constexpr std::uint64_t kData = kRamGpa + 0xc000;

// 64K of RAM at kRamGpa in slot 0 with `flags`, vCPU 0 initialised.
struct InsnVm {
    HostMm mm;
    Arm64Arch* arch = nullptr;
    std::unique_ptr<kvm> k;

    explicit InsnVm(std::uint32_t flags = 0) {
        const Profile p = *find_profile("v6.12");
        const Arm64HostOptions host = arm64_host_options(Arm64Platform::Rme);
        const Arm64VmTypeResult t = kvm_arch_init_vm(p, host, arm64_vm_type_word(p, false, 0));
        REQUIRE(t.type);
        auto a = std::make_unique<Arm64Arch>(mm, host, *t.type);
        arch = a.get();
        k = std::make_unique<kvm>(mm, p, std::move(a));
        REQUIRE(mm.mmap(kRam, 0x10000, Prot{.read = true, .write = true}, MappingKind::Anonymous, "ram") == OK);
        REQUIRE(k->set_user_memory_region({0, flags, kRamGpa, 0x10000, kRam.value()}) == OK);
        REQUIRE(k->create_vcpu(0) == OK);
        REQUIRE(kvm_arch_vcpu_ioctl_vcpu_init(*k, *arch, *k->vcpu(0)) == OK);
    }
    void poke(std::uint64_t gpa, std::uint64_t v) { REQUIRE(mm.access_remote(kRam + (gpa - kRamGpa), std::span(reinterpret_cast<std::uint8_t*>(&v), 8), true) == OK); }
    std::uint64_t peek(std::uint64_t gpa) {
        std::uint64_t v = 0;
        REQUIRE(mm.access_remote(kRam + (gpa - kRamGpa), std::span(reinterpret_cast<std::uint8_t*>(&v), 8), false) == OK);
        return v;
    }
    Arm64GuestAccessResult cas(std::uint64_t ipa, std::uint64_t compare, std::uint64_t data) {
        Arm64GuestAccess a;
        a.ipa = Gpa(ipa);
        a.size = 8;
        a.kind = Arm64AccessKind::Write;
        a.op = Arm64DataOp::CompareAndSwap;
        a.isv = false;
        a.compare = compare;
        a.data = data;
        return arm64_guest_access(*k, *arch, *k->vcpu(0), a);
    }
    Arm64GuestAccessResult zva(std::uint64_t ipa) {
        Arm64GuestAccess a;
        a.ipa = Gpa(ipa);
        a.size = 8;
        a.kind = Arm64AccessKind::Write;
        a.op = Arm64DataOp::ZeroBlock;
        a.isv = false;
        a.zva_block = 64;
        return arm64_guest_access(*k, *arch, *k->vcpu(0), a);
    }
    // Tables at kRamGpa (root) and above, mapping 0xc0000000 to kData; the MMU on.
    Arm64Stage1Regs tables() {
        Arm64S1BuildSpec s;
        s.root = Gpa(kRamGpa);
        s.pool = Gpa(kRamGpa + 0x1000);
        s.pool_size = 0x8000;
        s.maps.push_back(Arm64S1Mapping{.gva = Gva(0xc0000000), .gpa = Gpa(kData), .size = 0x1000, .block = 0x1000});
        const Arm64S1Memory mem{[this](Gpa a, std::uint64_t& v) { v = peek(a.value()); return true; }, [this](Gpa a, std::uint64_t v) { poke(a.value(), v); return true; }};
        REQUIRE_FALSE(build_stage1_tables(s, mem).error);
        return {true, Gpa(kRamGpa), 12, 48};
    }
};

}  // namespace

TEST_SUITE("arm64") {
TEST_CASE("CAS: a first touch is a read fault (WnR = 0), the write a second, permission, fault") {
    InsnVm vm(memflag::LogDirtyPages);
    vm.poke(kData, 0);
    const auto r = vm.cas(kData, 0, 0x1234);
    CHECK(r.stage2_fault);
    REQUIRE(r.run.completed);
    CHECK(r.run.data == 0);
    CHECK(vm.peek(kData) == 0x1234);
    // The read fault on a logging slot mapped it read-only and logged nothing; the write fault logged it.
    CHECK(vm.k->get_dirty_log(0).bitmap.at(0) == std::uint64_t{1} << 0xc);
    const auto miss = vm.cas(kData, 0, 0x5678);  // compare fails: nothing stored, the old value back
    REQUIRE(miss.run.completed);
    CHECK(miss.run.data == 0x1234);
    CHECK(vm.peek(kData) == 0x1234);
}

TEST_CASE("CAS on a read-only slot: mapped for the read, then ENOSYS; NISV reports the permission fault with WnR") {
    InsnVm vm(memflag::Readonly);
    const auto r = vm.cas(kData, 0, 1);
    REQUIRE(r.run.events.size() == 1);
    CHECK(r.run.events[0].error == Errno::Enosys);
    REQUIRE(vm.arch->stage2().lookup(gpa_to_gfn(Gpa(kData))));  // user_mem_abort() ran for the read
    CHECK_FALSE(vm.arch->stage2().lookup(gpa_to_gfn(Gpa(kData)))->prot.w);
    REQUIRE(vm.k->enable_cap(Cap::ArmNisvToUser, 0, {}) == OK);
    const auto nisv = vm.cas(kData, 0, 1);
    REQUIRE(nisv.run.events.size() == 1);
    CHECK(nisv.run.events[0].exit == Exit::ArmNisv);
    CHECK(nisv.run.events[0].arm_nisv.esr_iss == (0x40 | 0x0f));  // WnR, permission fault level 3
}

TEST_CASE("CAS outside every slot: the read half faults first, so NISV's WnR is clear") {
    InsnVm vm;
    REQUIRE(vm.k->enable_cap(Cap::ArmNisvToUser, 0, {}) == OK);
    const auto r = vm.cas(0x9000000, 0, 1);
    REQUIRE(r.run.events.size() == 1);
    CHECK(r.run.events[0].exit == Exit::ArmNisv);
    CHECK(r.run.events[0].arm_nisv.esr_iss == 0x05);  // translation fault at level 1, WnR 0
}

TEST_CASE("DC ZVA: zeroes its aligned block; on a read-only slot ENOSYS without mapping anything") {
    InsnVm vm;
    for (std::uint64_t off = 0; off < 0x80; off += 8) vm.poke(kData + off, ~std::uint64_t{0});
    const auto r = vm.zva(kData + 0x48);
    CHECK(r.stage2_fault);
    CHECK(r.run.completed);
    CHECK(vm.peek(kData + 0x38) == ~std::uint64_t{0});
    CHECK(vm.peek(kData + 0x40) == 0);
    CHECK(vm.peek(kData + 0x78) == 0);
    InsnVm ro(memflag::Readonly);
    const auto e = ro.zva(kData);
    REQUIRE(e.run.events.size() == 1);
    CHECK(e.run.events[0].error == Errno::Enosys);
    CHECK_FALSE(ro.arch->stage2().lookup(gpa_to_gfn(Gpa(kData))));  // io_mem_abort() pins nothing
}

TEST_CASE("AT S1E1R: PAR_EL1 from the walk alone; a stage-1 fault is F = 1, no exception") {
    InsnVm vm(memflag::Readonly | memflag::LogDirtyPages);
    const Arm64Stage1Regs regs = vm.tables();
    const Arm64AtResult ok = arm64_at_s1e1r(*vm.k, *vm.arch, *vm.k->vcpu(0), regs, Gva(0xc0000123));
    REQUIRE(ok.par);
    CHECK_FALSE(ok.par->f);
    CHECK(ok.par->pa.value() == kData);
    CHECK(ok.access.stage2_fault);                                 // the tables faulted in, read-only: no abort injected
    CHECK_FALSE(vm.arch->stage2().lookup(gpa_to_gfn(Gpa(kData))));  // the output address is never accessed
    const Arm64AtResult miss = arm64_at_s1e1r(*vm.k, *vm.arch, *vm.k->vcpu(0), regs, Gva(0xd0000000));
    REQUIRE(miss.par);
    CHECK(miss.par->f);
    CHECK(miss.par->fst == 0x06);  // translation fault, level 2
    CHECK(miss.access.run.events.empty());
}
}  // TEST_SUITE
