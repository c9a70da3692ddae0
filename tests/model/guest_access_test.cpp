// One x86 guest access (paging off) and what KVM_RUN shows: probe table G (reference §9.4, PVM
// host) and the upstream hardware fault path (reference §4.1-§4.4).
#include <array>
#include <cstring>

#include "support/kvm_test.h"
#include "model/x86/guest_access.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
constexpr std::uint64_t RAM_HVA = 0x7f0000000000ULL;  // slot 0 [0, 2 MiB)
constexpr std::uint64_t ROM_HVA = 0x7f0010000000ULL;  // slot 2 READONLY [0x400000, +64 KiB)
constexpr std::uint64_t AUX_HVA = 0x7f0020000000ULL;  // slot 3 [0x800000, +64 KiB): host mapping varied per test
constexpr std::uint64_t ROM_GPA = 0x400000, HOLE_GPA = 0x600000, AUX_GPA = 0x800000;

// The probe_guest layout: RAM, a READONLY slot pre-filled with 0x52000000|offset, a hole.
struct GuestVm : Vm {
    Platform platform;
    kvm_vcpu* vcpu = nullptr;

    explicit GuestVm(Platform p) : Vm("mainline", p), platform(p) {
        map(RAM_HVA, 2 << 20);
        map(ROM_HVA, 64 << 10);
        map(AUX_HVA, 64 << 10);
        REQUIRE_SET_REGION_OK(*this, 0, 0, 0, 2 << 20, RAM_HVA);
        REQUIRE_SET_REGION_OK(*this, 2, memflag::Readonly, ROM_GPA, 64 << 10, ROM_HVA);
        REQUIRE_SET_REGION_OK(*this, 3, 0, AUX_GPA, 64 << 10, AUX_HVA);
        for (std::uint32_t off = 0; off < (64 << 10); off += 4) {
            const std::uint32_t v = 0x52000000u | off;
            std::array<std::uint8_t, 4> b{};
            std::memcpy(b.data(), &v, 4);
            REQUIRE_OK(mm.access_remote(Hva(ROM_HVA + off), b, true));
        }
        REQUIRE_OK(k.create_vcpu(0));
        vcpu = k.vcpu(0);
    }
    GuestAccessResult read(std::uint64_t gpa, unsigned size, std::uint64_t reply = 0) {
        GuestAccess a{.gpa = Gpa(gpa), .size = size, .type = AccessType::Read};
        std::memcpy(a.mmio_reply.data(), &reply, 8);
        return x86_guest_access(k, *vcpu, platform_options(platform), a);
    }
    GuestAccessResult write(std::uint64_t gpa, unsigned size, std::uint64_t data) {
        return x86_guest_access(k, *vcpu, platform_options(platform),
                                {.gpa = Gpa(gpa), .size = size, .type = AccessType::Write, .data = data});
    }
    std::uint64_t host(std::uint64_t hva, unsigned size) {
        std::array<std::uint8_t, 8> b{};
        REQUIRE_OK(mm.access_remote(Hva(hva), std::span(b.data(), size), false));
        std::uint64_t v = 0;
        std::memcpy(&v, b.data(), 8);
        return v;
    }
};

std::uint64_t mmio_data(const VcpuEvent& e) {
    std::uint64_t v = 0;
    std::memcpy(&v, e.mmio.data.data(), e.mmio.len);
    return v;
}

void check_mmio(const GuestAccessResult& r, std::size_t i, std::uint64_t gpa, unsigned len, bool is_write) {
    INFO("event " << i << " of " << r.events.size());
    REQUIRE(r.events.size() > i);
    const VcpuEvent& e = r.events[i];
    REQUIRE(e.kind == VcpuEvent::Kind::Exit);
    CHECK(e.exit == Exit::Mmio);
    CHECK(e.mmio.phys_addr == Gpa(gpa));
    CHECK(e.mmio.len == len);
    CHECK(e.mmio.is_write == is_write);
}

void check_efault(const GuestAccessResult& r) {
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].kind == VcpuEvent::Kind::RunError);
    CHECK(r.events[0].error == Errno::Efault);
    CHECK_FALSE(r.events[0].memory_fault.has_value());  // no KVM_EXIT_MEMORY_FAULT for shared memory (§4.1)
    CHECK_FALSE(r.completed);
}
}  // namespace

TEST_SUITE("guest_access") {

// Behaviour that is the same on both platforms (§4.1 + §4.2, G01-G13).
TEST_CASE("guest_access: RAM and READONLY slot reads complete from memory (G01, G02)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        GuestAccessResult r = vm.read(0x1000, 8);
        CHECK(r.events.empty());
        CHECK(r.completed);
        CHECK(r.data == 0);
        r = vm.read(ROM_GPA + 0x10, 4);
        CHECK(r.events.empty());
        CHECK(r.data == 0x52000010);
    }
}
TEST_CASE("guest_access: a write to a READONLY slot exits as MMIO with the data, memory unchanged (G03-G05)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        GuestAccessResult r = vm.write(ROM_GPA + 0x10, 4, 0xdeadbeef);
        REQUIRE(r.events.size() == 1);
        check_mmio(r, 0, ROM_GPA + 0x10, 4, true);
        CHECK(r.events[0].mmio.data[0] == 0xef);
        CHECK(r.events[0].mmio.data[3] == 0xde);
        CHECK(r.completed);
        CHECK(vm.host(ROM_HVA + 0x10, 4) == 0x52000010);

        r = vm.write(ROM_GPA + 0x20, 8, 0x0102030405060708ULL);
        check_mmio(r, 0, ROM_GPA + 0x20, 8, true);
        CHECK(mmio_data(r.events[0]) == 0x0102030405060708ULL);
        r = vm.write(ROM_GPA + 0x31, 1, 0x7e);
        check_mmio(r, 0, ROM_GPA + 0x31, 1, true);
        CHECK(mmio_data(r.events[0]) == 0x7e);
    }
}
TEST_CASE("guest_access: write to a READONLY slot then read it: one MMIO write, the read gets memory (G06)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        REQUIRE(vm.write(ROM_GPA + 0x40, 4, 0x11111111).events.size() == 1);
        const GuestAccessResult r = vm.read(ROM_GPA + 0x40, 4);
        CHECK(r.events.empty());
        CHECK(r.data == 0x52000040);
    }
}
TEST_CASE("guest_access: u64 write straddling the READONLY slot end into a hole: two MMIO exits, low half first (G07)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        const GuestAccessResult r = vm.write(0x40fffc, 8, 0x8877665544332211ULL);
        REQUIRE(r.events.size() == 2);
        check_mmio(r, 0, 0x40fffc, 4, true);
        check_mmio(r, 1, 0x410000, 4, true);
        CHECK(mmio_data(r.events[0]) == 0x44332211);
        CHECK(mmio_data(r.events[1]) == 0x88776655);
    }
}
TEST_CASE("guest_access: reads of a hole exit as MMIO reads and return userspace's bytes (G08, G09)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        GuestAccessResult r = vm.read(HOLE_GPA, 4, 0xcafef00d);
        REQUIRE(r.events.size() == 1);
        check_mmio(r, 0, HOLE_GPA, 4, false);
        CHECK(r.completed);
        CHECK(r.data == 0xcafef00d);
        r = vm.read(HOLE_GPA + 8, 8, 0x0123456789abcdefULL);
        check_mmio(r, 0, HOLE_GPA + 8, 8, false);
        CHECK(r.data == 0x0123456789abcdefULL);
    }
}
TEST_CASE("guest_access: a write to a hole exits as an MMIO write (G10)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        const GuestAccessResult r = vm.write(HOLE_GPA, 4, 0xabcd1234);
        REQUIRE(r.events.size() == 1);
        check_mmio(r, 0, HOLE_GPA, 4, true);
        CHECK(mmio_data(r.events[0]) == 0xabcd1234);
    }
}
TEST_CASE("guest_access: a write straddling RAM into a hole writes the RAM half and exits for the other") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        const GuestAccessResult r = vm.write((2 << 20) - 4, 8, 0x8877665544332211ULL);
        REQUIRE(r.events.size() == 1);
        check_mmio(r, 0, 2 << 20, 4, true);
        CHECK(mmio_data(r.events[0]) == 0x88776655);
        CHECK(vm.host(RAM_HVA + (2 << 20) - 4, 4) == 0x44332211);
    }
}
TEST_CASE("guest_access: a read straddling RAM into a hole gets the RAM half from memory, the rest from userspace") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        std::array<std::uint8_t, 4> b{0x11, 0x22, 0x33, 0x44};
        REQUIRE_OK(vm.mm.access_remote(Hva(RAM_HVA + (2 << 20) - 4), b, true));
        const GuestAccessResult r = vm.read((2 << 20) - 4, 8, 0xaabbccdd00000000ULL);
        REQUIRE(r.events.size() == 1);
        check_mmio(r, 0, 2 << 20, 4, false);
        CHECK(r.data == 0xaabbccdd44332211ULL);
    }
}
TEST_CASE("guest_access: a guest write to a logging slot marks the page dirty") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        REQUIRE_SET_REGION_OK(vm, 3, memflag::LogDirtyPages, AUX_GPA, 64 << 10, AUX_HVA);
        const GuestAccessResult r = vm.write(AUX_GPA + 3 * PG + 8, 4, 1);
        CHECK(r.events.empty());
        CHECK(vm.k.get_dirty_log(3).bitmap.at(0) == (1u << 3));
    }
}
TEST_CASE("guest_access: after a slot is deleted its gfns are a hole (MMIO), after re-creation memory again (selftest delete)") {
    for (Platform p : {Platform::Pvm, Platform::Vmx}) {
        CAPTURE(to_string(p));
        GuestVm vm(p);
        REQUIRE(vm.read(AUX_GPA, 8).events.empty());  // warms the vCPU's slot cache
        REQUIRE_SET_REGION_OK(vm, 3, 0, 0, 0, 0);
        GuestAccessResult r = vm.read(AUX_GPA, 8, 0x1234);
        check_mmio(r, 0, AUX_GPA, 8, false);
        CHECK(r.data == 0x1234);
        REQUIRE_SET_REGION_OK(vm, 3, 0, AUX_GPA, 64 << 10, AUX_HVA);
        r = vm.read(AUX_GPA, 8);
        CHECK(r.events.empty());
        CHECK(r.data == 0);
    }
}

// PVM: every access is emulated; a failed host copy falls back to MMIO (§4.4, G14-G21).
TEST_CASE("guest_access pvm: slot over a munmap'd hva: read and write exit as MMIO (G14, G15)") {
    GuestVm vm(Platform::Pvm);
    REQUIRE_OK(vm.mm.munmap(Hva(AUX_HVA), 64 << 10));
    check_mmio(vm.read(AUX_GPA, 4), 0, AUX_GPA, 4, false);
    check_mmio(vm.write(AUX_GPA, 4, 7), 0, AUX_GPA, 4, true);
}
TEST_CASE("guest_access pvm: PROT_READ hva: read gets memory, write exits as MMIO (G16, G17)") {
    GuestVm vm(Platform::Pvm);
    std::array<std::uint8_t, 4> b{0x78, 0x56, 0x34, 0x12};
    REQUIRE_OK(vm.mm.access_remote(Hva(AUX_HVA), b, true));
    REQUIRE_OK(vm.mm.mprotect(Hva(AUX_HVA), 64 << 10, Prot{.read = true}));
    GuestAccessResult r = vm.read(AUX_GPA, 4);
    CHECK(r.events.empty());
    CHECK(r.data == 0x12345678);
    r = vm.write(AUX_GPA, 4, 0xffffffff);
    check_mmio(r, 0, AUX_GPA, 4, true);
    CHECK(vm.host(AUX_HVA, 4) == 0x12345678);
}
TEST_CASE("guest_access pvm: PROT_NONE hva: read exits as MMIO (G18)") {
    GuestVm vm(Platform::Pvm);
    REQUIRE_OK(vm.mm.mprotect(Hva(AUX_HVA), 64 << 10, Prot{}));
    check_mmio(vm.read(AUX_GPA, 4), 0, AUX_GPA, 4, false);
}
TEST_CASE("guest_access pvm: READONLY slot over PROT_READ or unmapped hva: writes and reads exit as MMIO (G19-G21)") {
    GuestVm vm(Platform::Pvm);
    REQUIRE_OK(vm.mm.mprotect(Hva(ROM_HVA), 32 << 10, Prot{.read = true}));
    check_mmio(vm.write(ROM_GPA, 4, 1), 0, ROM_GPA, 4, true);
    REQUIRE_OK(vm.mm.munmap(Hva(ROM_HVA + (32 << 10)), 32 << 10));
    check_mmio(vm.write(ROM_GPA + (32 << 10), 4, 1), 0, ROM_GPA + (32 << 10), 4, true);
    check_mmio(vm.read(ROM_GPA + (32 << 10), 4), 0, ROM_GPA + (32 << 10), 4, false);
}

// VMX (upstream hardware path, §4.1): a missing or forbidden host page is -EFAULT from KVM_RUN.
TEST_CASE("guest_access vmx: slot over a munmap'd hva: read and write -> KVM_RUN EFAULT") {
    GuestVm vm(Platform::Vmx);
    REQUIRE_OK(vm.mm.munmap(Hva(AUX_HVA), 64 << 10));
    check_efault(vm.read(AUX_GPA, 4));
    check_efault(vm.write(AUX_GPA, 4, 7));
}
TEST_CASE("guest_access vmx: PROT_READ hva: read gets memory, write -> EFAULT") {
    GuestVm vm(Platform::Vmx);
    std::array<std::uint8_t, 4> b{0x78, 0x56, 0x34, 0x12};
    REQUIRE_OK(vm.mm.access_remote(Hva(AUX_HVA), b, true));
    REQUIRE_OK(vm.mm.mprotect(Hva(AUX_HVA), 64 << 10, Prot{.read = true}));
    const GuestAccessResult r = vm.read(AUX_GPA, 4);
    CHECK(r.events.empty());
    CHECK(r.data == 0x12345678);
    check_efault(vm.write(AUX_GPA, 4, 0xffffffff));
    CHECK(vm.host(AUX_HVA, 4) == 0x12345678);
}
TEST_CASE("guest_access vmx: PROT_NONE hva: read -> EFAULT") {
    GuestVm vm(Platform::Vmx);
    REQUIRE_OK(vm.mm.mprotect(Hva(AUX_HVA), 64 << 10, Prot{}));
    check_efault(vm.read(AUX_GPA, 4));
}
TEST_CASE("guest_access vmx: READONLY slot over an unmapped hva: write is RO_FAULT -> MMIO; read -> EFAULT") {
    GuestVm vm(Platform::Vmx);
    REQUIRE_OK(vm.mm.munmap(Hva(ROM_HVA), 64 << 10));
    check_mmio(vm.write(ROM_GPA, 4, 1), 0, ROM_GPA, 4, true);
    check_efault(vm.read(ROM_GPA, 4));
}
TEST_CASE("guest_access vmx: a hwpoisoned page -> SIGBUS at the page's hva") {
    GuestVm vm(Platform::Vmx);
    const std::array<std::uint8_t, 1> one{1};
    REQUIRE(vm.mm.copy_to_user(Hva(AUX_HVA + PG), one));  // a page of its own: the zero page cannot be poisoned
    REQUIRE_OK(vm.mm.madvise_hwpoison(Hva(AUX_HVA + PG + 0x10), false).result);
    const GuestAccessResult r = vm.read(AUX_GPA + PG + 0x20, 4);
    REQUIRE(r.events.size() == 1);
    CHECK(r.events[0].kind == VcpuEvent::Kind::Signal);
    CHECK(r.events[0].signal == Signal::Sigbus);
    CHECK(r.events[0].signal_addr == Hva(AUX_HVA + PG));
    CHECK(vm.read(AUX_GPA, 4).events.empty());  // the neighbouring page is fine
}
TEST_CASE("guest_access vmx: an SMM vCPU reads its own address space; a normal-mode slot is a hole for it") {
    GuestVm vm(Platform::Vmx);
    vm.map(0x7f0040000000ULL, PG);
    std::array<std::uint8_t, 4> b{1, 0, 0, 0};
    REQUIRE_OK(vm.mm.access_remote(Hva(0x7f0040000000ULL), b, true));
    REQUIRE_SET_REGION_OK(vm, 1u << 16, 0, 0x30000, PG, 0x7f0040000000ULL);
    vm.vcpu->as_id = 1;
    GuestAccessResult r = vm.read(0x30000, 4);
    CHECK(r.events.empty());
    CHECK(r.data == 1);
    r = vm.read(0x1000, 4);
    check_mmio(r, 0, 0x1000, 4, false);
}

}  // TEST_SUITE
