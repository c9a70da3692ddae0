// gfn -> hva -> pfn and kvm_read_guest / kvm_write_guest (reference §3.1-§3.3; v3.6/v3.7 from
// notes/v36-v37.md §4).
#include <array>
#include <cstring>

#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
constexpr std::uint64_t RAM = 0x7f0000000000ULL;  // 16 pages, rw
constexpr std::uint64_t ROM = 0x7f0010000000ULL;  // 4 pages, rw, behind a READONLY slot
constexpr std::uint32_t RO = memflag::Readonly;
constexpr std::uint32_t LOG = memflag::LogDirtyPages;

// slot 0: gfn [0x100, 0x110) -> RAM; slot 1 READONLY: gfn [0x200, 0x204) -> ROM; hole elsewhere.
struct TVm : Vm {
    explicit TVm(std::string_view profile = "mainline", Platform p = Platform::Vmx) : Vm(profile, p) {
        map(RAM, 16 * PG);
        map(ROM, 4 * PG);
        REQUIRE_SET_REGION_OK(*this, 0, 0, 0x100000, 16 * PG, RAM);
        if (profile != "v3.6") REQUIRE_SET_REGION_OK(*this, 1, RO, 0x200000, 4 * PG, ROM);
    }
    kvm_memory_slot* slot(Gfn g) { return k.gfn_to_memslot(g); }
};

std::uint64_t read_u64(kvm& k, Gpa gpa, KvmResult& r) {
    std::array<std::uint8_t, 8> b{};
    r = kvm_read_guest(k, gpa, b);
    std::uint64_t v = 0;
    std::memcpy(&v, b.data(), 8);
    return v;
}
KvmResult write_u64(kvm& k, Gpa gpa, std::uint64_t v) {
    std::array<std::uint8_t, 8> b{};
    std::memcpy(b.data(), &v, 8);
    return kvm_write_guest(k, gpa, b);
}
}  // namespace

TEST_SUITE("translate") {

// ---- gfn -> hva ----
TEST_CASE("gfn_to_hva: a gfn in a slot -> userspace_addr + (gfn - base_gfn) * 4096") {
    TVm vm;
    const HvaLookup h = gfn_to_hva(vm.k, Gfn(0x105));
    CHECK(h.error == std::nullopt);
    CHECK(h.hva == Hva(RAM + 5 * PG));
}
TEST_CASE("gfn_to_hva: a hole, just below and just past a slot -> KVM_HVA_ERR_BAD") {
    TVm vm;
    for (std::uint64_t g : {0x0ULL, 0xffULL, 0x110ULL, 0x204ULL, 0xfffffffffULL}) {
        CAPTURE(hex(g));
        CHECK(gfn_to_hva(vm.k, Gfn(g)).error == std::optional(HvaError::Bad));
    }
}
TEST_CASE("gfn_to_hva: a READONLY slot refuses the write translation -> KVM_HVA_ERR_RO_BAD") {
    TVm vm;
    CHECK(gfn_to_hva(vm.k, Gfn(0x201)).error == std::optional(HvaError::RoBad));
    CHECK(gfn_to_hva_many(vm.k, vm.slot(Gfn(0x201)), Gfn(0x201)).error == std::optional(HvaError::RoBad));
}
TEST_CASE("gfn_to_hva_many: nr_pages counts from the gfn to the end of the slot") {
    TVm vm;
    const HvaLookup h = gfn_to_hva_many_inner(vm.k, vm.slot(Gfn(0x10c)), Gfn(0x10c), {.write = false});
    CHECK(h.nr_pages == 4);
    CHECK(h.hva == Hva(RAM + 12 * PG));
    const HvaLookup r = gfn_to_hva_many_inner(vm.k, vm.slot(Gfn(0x203)), Gfn(0x203), {.write = false});
    CHECK(r.error == std::nullopt);
    CHECK(r.nr_pages == 1);
    CHECK(r.hva == Hva(ROM + 3 * PG));
}
TEST_CASE("gfn_to_hva_prot: READONLY slot translates with writable = false; RAM writable = true; hole -> BAD") {
    TVm vm;
    const HvaLookup ro = gfn_to_hva_prot(vm.k, Gfn(0x202));
    CHECK(ro.error == std::nullopt);
    CHECK(ro.hva == Hva(ROM + 2 * PG));
    CHECK_FALSE(ro.writable);
    const HvaLookup rw = gfn_to_hva_prot(vm.k, Gfn(0x100));
    CHECK(rw.error == std::nullopt);
    CHECK(rw.writable);
    CHECK(gfn_to_hva_prot(vm.k, Gfn(0x300)).error == std::optional(HvaError::Bad));
}
TEST_CASE("gfn_to_hva: an hva alias: two slots on one userspace_addr translate to the same hva") {
    TVm vm;
    REQUIRE_SET_REGION_OK(vm, 2, 0, 0x400000, 16 * PG, RAM);
    CHECK(gfn_to_hva(vm.k, Gfn(0x403)).hva == gfn_to_hva(vm.k, Gfn(0x103)).hva);
}
TEST_CASE("gfn_to_hva: after a delete or move the old gfns are a hole (no stale VM-wide cache)") {
    TVm vm;
    REQUIRE(gfn_to_hva(vm.k, Gfn(0x101)).ok());  // fills last_used_slot
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0x800000, 16 * PG, RAM);
    CHECK(gfn_to_hva(vm.k, Gfn(0x101)).error == std::optional(HvaError::Bad));
    CHECK(gfn_to_hva(vm.k, Gfn(0x801)).hva == Hva(RAM + PG));
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 0, 0);
    CHECK(gfn_to_hva(vm.k, Gfn(0x801)).error == std::optional(HvaError::Bad));
}

// ---- v3.6 / v3.7 ----
TEST_CASE("gfn_to_hva v3.6: flag bit 1 is KVM_MEMSLOT_INVALID: the slot is a hole for every translation") {
    TVm vm("v3.6");
    REQUIRE_SET_REGION_OK(vm, 1, 1u << 1, 0x200000, 4 * PG, ROM);
    CHECK(gfn_to_hva(vm.k, Gfn(0x200)).error == std::optional(HvaError::Bad));
    CHECK(gfn_to_hva_prot(vm.k, Gfn(0x200)).error == std::optional(HvaError::Bad));
    KvmResult r = OK;
    (void)read_u64(vm.k, Gpa(0x200000), r);
    CHECK(r == EFAULT_);
    CHECK(write_u64(vm.k, Gpa(0x200000), 1) == EFAULT_);
}
TEST_CASE("gfn_to_hva v3.6: flag bit 16 is just stored; the slot translates normally") {
    TVm vm("v3.6");
    REQUIRE_SET_REGION_OK(vm, 1, 1u << 16, 0x200000, 4 * PG, ROM);
    CHECK(gfn_to_hva(vm.k, Gfn(0x201)).hva == Hva(ROM + PG));
}
TEST_CASE("gfn_to_pfn_memslot v3.7: a hole -> KVM_PFN_ERR_BAD (before KVM_PFN_NOSLOT)") {
    TVm vm("v3.7");
    CHECK(gfn_to_pfn_memslot_inner(vm.k, nullptr, Gfn(0x300), {}).error == std::optional(PfnError::Bad));
}
TEST_CASE("gfn_to_hva v3.7: READONLY slot refuses writes (RO_BAD) and reads translate") {
    TVm vm("v3.7");
    CHECK(gfn_to_hva(vm.k, Gfn(0x200)).error == std::optional(HvaError::RoBad));
    CHECK(gfn_to_hva_prot(vm.k, Gfn(0x200)).ok());
}

// ---- hva -> pfn ----
TEST_CASE("hva_to_pfn: unmapped hva -> KVM_PFN_ERR_FAULT") {
    Vm vm;
    CHECK(hva_to_pfn(vm.k, Hva(0x100000000ULL), {}).error == std::optional(PfnError::Fault));
    CHECK(hva_to_pfn(vm.k, Hva(0x100000000ULL), {.write = true}).error == std::optional(PfnError::Fault));
}
TEST_CASE("hva_to_pfn: PROT_NONE -> FAULT for read and write; PROT_READ -> FAULT for a write only") {
    Vm vm;
    vm.map(0x10000000, PG, Prot{});
    vm.map(0x20000000, PG, Prot{.read = true});
    CHECK(hva_to_pfn(vm.k, Hva(0x10000000), {}).error == std::optional(PfnError::Fault));
    CHECK(hva_to_pfn(vm.k, Hva(0x10000000), {.write = true}).error == std::optional(PfnError::Fault));
    CHECK(hva_to_pfn(vm.k, Hva(0x20000000), {.write = true}).error == std::optional(PfnError::Fault));
    const PfnLookup r = hva_to_pfn(vm.k, Hva(0x20000000), {.want_writable = true});
    CHECK(r.error == std::nullopt);
    CHECK_FALSE(r.writable);  // no writable upgrade on a read-only mapping
}
TEST_CASE("hva_to_pfn: read of rw memory is mapped writable only when the caller accepts it") {
    Vm vm;
    vm.map(0x10000000, PG);
    const PfnLookup want = hva_to_pfn(vm.k, Hva(0x10000000), {.want_writable = true});
    CHECK(want.error == std::nullopt);
    CHECK(want.writable);
    const PfnLookup plain = hva_to_pfn(vm.k, Hva(0x10000000), {});
    CHECK(plain.error == std::nullopt);
    CHECK_FALSE(plain.writable);
    CHECK(plain.pfn == want.pfn);
    const PfnLookup w = hva_to_pfn(vm.k, Hva(0x10000000), {.write = true});
    CHECK(w.writable);
    CHECK(w.pfn == want.pfn);
}
TEST_CASE("hva_to_pfn: one host page is one pfn; different pages differ") {
    Vm vm;
    vm.map(0x10000000, 2 * PG);
    const Pfn a = hva_to_pfn(vm.k, Hva(0x10000000), {}).pfn;
    CHECK(hva_to_pfn(vm.k, Hva(0x10000fff), {}).pfn == a);
    CHECK(hva_to_pfn(vm.k, Hva(0x10001000), {}).pfn != a);
}
TEST_CASE("hva_to_pfn: hwpoisoned page -> KVM_PFN_ERR_HWPOISON") {
    Vm vm;
    vm.map(0x10000000, PG);
    const std::array<std::uint8_t, 1> one{1};
    REQUIRE(vm.mm.copy_to_user(Hva(0x10000000), one));  // a page of its own: the zero page cannot be poisoned
    REQUIRE_OK(vm.mm.madvise_hwpoison(Hva(0x10000000), false).result);
    CHECK(hva_to_pfn(vm.k, Hva(0x10000000), {}).error == std::optional(PfnError::Hwpoison));
    CHECK(hva_to_pfn(vm.k, Hva(0x10000000), {.write = true}).error == std::optional(PfnError::Hwpoison));
}
TEST_CASE("hva_to_pfn: VM_PFNMAP: read-only mapping, write -> RO_FAULT, read -> its pfn; rw mapping writable") {
    Vm vm;
    vm.map(0x10000000, 4 * PG, Prot{.read = true}, MappingKind::PfnMap);
    vm.map(0x20000000, 4 * PG, Prot{.read = true, .write = true}, MappingKind::PfnMap);
    CHECK(hva_to_pfn(vm.k, Hva(0x10000000), {.write = true}).error == std::optional(PfnError::RoFault));
    const PfnLookup r0 = hva_to_pfn(vm.k, Hva(0x10000000), {.want_writable = true});
    const PfnLookup r2 = hva_to_pfn(vm.k, Hva(0x10002000), {});
    REQUIRE(r0.ok());
    REQUIRE(r2.ok());
    CHECK_FALSE(r0.writable);
    CHECK(r2.pfn.value() == r0.pfn.value() + 2);  // remap_pfn_range: contiguous device pfns
    const PfnLookup w = hva_to_pfn(vm.k, Hva(0x20001000), {.write = true});
    CHECK(w.error == std::nullopt);
    CHECK(w.writable);
}

// ---- gfn -> pfn ----
TEST_CASE("gfn_to_pfn_memslot: a hole -> KVM_PFN_NOSLOT") {
    TVm vm;
    CHECK(gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x300)), Gfn(0x300), {}).error == std::optional(PfnError::Noslot));
    CHECK(gfn_to_pfn_memslot_inner(vm.k, nullptr, Gfn(0x300), {.write = true}).error == std::optional(PfnError::Noslot));
}
TEST_CASE("gfn_to_pfn_memslot: write to a READONLY slot -> KVM_PFN_ERR_RO_FAULT, even with an unmapped hva") {
    TVm vm;
    CHECK(gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x200)), Gfn(0x200), {.write = true}).error ==
          std::optional(PfnError::RoFault));
    REQUIRE_OK(vm.mm.munmap(Hva(ROM), 4 * PG));
    CHECK(gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x200)), Gfn(0x200), {.write = true}).error ==
          std::optional(PfnError::RoFault));
}
TEST_CASE("gfn_to_pfn_memslot: read of a READONLY slot is never mapped writable, though the host page is rw") {
    TVm vm;
    const PfnLookup p = gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x200)), Gfn(0x200), {.want_writable = true});
    CHECK(p.error == std::nullopt);
    CHECK_FALSE(p.writable);
}
TEST_CASE("gfn_to_pfn_memslot: read of RAM accepting writable -> writable pfn; aliasing slots share the pfn") {
    TVm vm;
    REQUIRE_SET_REGION_OK(vm, 2, 0, 0x400000, 16 * PG, RAM);
    const PfnLookup a = gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x103)), Gfn(0x103), {.want_writable = true});
    const PfnLookup b = gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x403)), Gfn(0x403), {.write = true});
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(a.writable);
    CHECK(a.pfn == b.pfn);
}
TEST_CASE("gfn_to_pfn_memslot: RAM slot over a munmap'd hva -> KVM_PFN_ERR_FAULT") {
    TVm vm;
    REQUIRE_OK(vm.mm.munmap(Hva(RAM), 16 * PG));
    CHECK(gfn_to_pfn_memslot_inner(vm.k, vm.slot(Gfn(0x100)), Gfn(0x100), {}).error == std::optional(PfnError::Fault));
}

// ---- kvm_read_guest / kvm_write_guest ----
TEST_CASE("kvm_write_guest then kvm_read_guest round-trip, crossing a page boundary inside a slot") {
    TVm vm;
    REQUIRE_OK(write_u64(vm.k, Gpa(0x100ffc), 0x1122334455667788ULL));
    KvmResult r = OK;
    CHECK(read_u64(vm.k, Gpa(0x100ffc), r) == 0x1122334455667788ULL);
    CHECK(r == OK);
    std::array<std::uint8_t, 4> host{};
    REQUIRE_OK(vm.mm.access_remote(Hva(RAM + PG), host, false));
    CHECK(host[0] == 0x44);
}
TEST_CASE("kvm_read_guest: reads across two adjacent slots") {
    TVm vm;
    vm.map(0x7f0020000000ULL, PG);
    REQUIRE_SET_REGION_OK(vm, 2, 0, 0x110000, PG, 0x7f0020000000ULL);
    REQUIRE_OK(write_u64(vm.k, Gpa(0x10fffc), 0xaabbccdd11223344ULL));
    KvmResult r = OK;
    CHECK(read_u64(vm.k, Gpa(0x10fffc), r) == 0xaabbccdd11223344ULL);
    CHECK(r == OK);
}
TEST_CASE("kvm_read_guest: a hole -> EFAULT; READONLY slot reads") {
    TVm vm;
    KvmResult r = OK;
    (void)read_u64(vm.k, Gpa(0x300000), r);
    CHECK(r == EFAULT_);
    std::array<std::uint8_t, 8> magic{0x55, 0xaa, 0x55, 0xaa, 0x55, 0xaa, 0x55, 0xaa};
    REQUIRE_OK(vm.mm.access_remote(Hva(ROM + 8), magic, true));
    CHECK(read_u64(vm.k, Gpa(0x200008), r) == 0xaa55aa55aa55aa55ULL);
    CHECK(r == OK);
}
TEST_CASE("kvm_write_guest: a READONLY slot -> EFAULT and its memory is unchanged") {
    TVm vm;
    CHECK(write_u64(vm.k, Gpa(0x200000), 0xdeadbeef) == EFAULT_);
    std::array<std::uint8_t, 8> host{};
    REQUIRE_OK(vm.mm.access_remote(Hva(ROM), host, false));
    CHECK(host == std::array<std::uint8_t, 8>{});
}
TEST_CASE("kvm_write_guest: crossing into a hole -> EFAULT, the first page stays written") {
    TVm vm;
    CHECK(write_u64(vm.k, Gpa(0x10fffc), 0x1122334455667788ULL) == EFAULT_);
    std::array<std::uint8_t, 4> host{};
    REQUIRE_OK(vm.mm.access_remote(Hva(RAM + 15 * PG + 0xffc), host, false));
    CHECK(host == std::array<std::uint8_t, 4>{0x88, 0x77, 0x66, 0x55});
}
TEST_CASE("kvm_read_guest / kvm_write_guest: unmapped or PROT_NONE host memory -> EFAULT; PROT_READ reads but refuses writes") {
    TVm vm;
    REQUIRE_OK(vm.mm.mprotect(Hva(RAM), PG, Prot{}));
    REQUIRE_OK(vm.mm.mprotect(Hva(RAM + PG), PG, Prot{.read = true}));
    REQUIRE_OK(vm.mm.munmap(Hva(RAM + 2 * PG), PG));
    KvmResult r = OK;
    (void)read_u64(vm.k, Gpa(0x100000), r);
    CHECK(r == EFAULT_);
    (void)read_u64(vm.k, Gpa(0x101000), r);
    CHECK(r == OK);
    CHECK(write_u64(vm.k, Gpa(0x101000), 1) == EFAULT_);
    (void)read_u64(vm.k, Gpa(0x102000), r);
    CHECK(r == EFAULT_);
    CHECK(write_u64(vm.k, Gpa(0x102000), 1) == EFAULT_);
}
TEST_CASE("kvm_write_guest: marks every written page dirty in a logging slot, none on failure") {
    Vm vm;
    vm.map(RAM, 16 * PG);
    REQUIRE_SET_REGION_OK(vm, 0, LOG, 0x100000, 16 * PG, RAM);
    REQUIRE_OK(write_u64(vm.k, Gpa(0x101ffc), 1));  // pages 1 and 2
    CHECK(write_u64(vm.k, Gpa(0x110000), 1) == EFAULT_);
    CHECK(vm.k.get_dirty_log(0).bitmap.at(0) == 0b110);
}
TEST_CASE("kvm_vcpu_read_guest: the vCPU's cache never returns a moved slot's old range") {
    TVm vm;
    REQUIRE_OK(vm.k.create_vcpu(0));
    kvm_vcpu& v = *vm.k.vcpu(0);
    std::array<std::uint8_t, 8> b{};
    REQUIRE_OK(kvm_vcpu_read_guest(vm.k, v, Gpa(0x100000), b));
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0x800000, 16 * PG, RAM);
    CHECK(kvm_vcpu_read_guest(vm.k, v, Gpa(0x100000), b) == EFAULT_);
    CHECK(kvm_vcpu_read_guest(vm.k, v, Gpa(0x800000), b) == OK);
    CHECK(vm.k.vcpu_gfn_to_memslot(v, Gfn(0x100)) == nullptr);
}
TEST_CASE("kvm_vcpu_gfn_to_memslot: an SMM vCPU (as_id 1) sees only address space 1") {
    TVm vm;  // vmx: two address spaces
    REQUIRE_OK(vm.k.create_vcpu(0));
    kvm_vcpu& v = *vm.k.vcpu(0);
    vm.map(0x7f0030000000ULL, PG);
    REQUIRE_SET_REGION_OK(vm, 1u << 16, 0, 0x100000, PG, 0x7f0030000000ULL);
    REQUIRE(vm.k.vcpu_gfn_to_memslot(v, Gfn(0x101)) != nullptr);  // as 0 slot 0, cached
    v.as_id = 1;
    CHECK(vm.k.vcpu_gfn_to_memslot(v, Gfn(0x101)) == nullptr);
    kvm_memory_slot* smm = vm.k.vcpu_gfn_to_memslot(v, Gfn(0x100));
    REQUIRE(smm != nullptr);
    CHECK(smm->as_id == 1);
    v.as_id = 0;
    REQUIRE(vm.k.vcpu_gfn_to_memslot(v, Gfn(0x100)) != nullptr);
    CHECK(vm.k.vcpu_gfn_to_memslot(v, Gfn(0x100))->as_id == 0);
}

}  // TEST_SUITE
