// KVM's guest page walker (arch/x86/kvm/mmu/paging_tmpl.h) per paging mode: the entries read,
// the #PF error codes, the accessed/dirty update and its read-only-slot skip. Tables are written
// by hand here (not by the builder) so each expectation follows from the architecture.
#include <array>
#include <cstring>

#include "support/kvm_test.h"
#include "model/x86/gva_access.h"
#include "model/x86/page_table_builder.h"
#include "model/x86/walker.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {

constexpr std::uint64_t RAM_HVA = 0x7f0000000000ULL;  // slot 0: gpa [0, 2M)
constexpr std::uint64_t PT_HVA = 0x7f0010000000ULL;   // slot 1: gpa [0x200000, +64K), the tables
constexpr std::uint64_t PT = 0x200000;
using namespace x86;

struct WalkVm : Vm {
    kvm_vcpu* vcpu = nullptr;
    X86PagingState st;
    Platform platform;

    explicit WalkVm(std::uint32_t pt_flags = 0, std::string_view profile = "mainline", Platform p = Platform::Pvm) : Vm(profile, p), platform(p) {
        map(RAM_HVA, 2 << 20);
        map(PT_HVA, 64 << 10);
        REQUIRE_SET_REGION_OK(*this, 0, 0, 0, 2 << 20, RAM_HVA);
        REQUIRE_SET_REGION_OK(*this, 1, pt_flags, PT, 64 << 10, PT_HVA);
        REQUIRE_OK(k.create_vcpu(0));
        vcpu = k.vcpu(0);
        st.cr0 = CR0_PG | CR0_WP | CR0_PE;
        st.cr3 = PT;
        st.cr4 = CR4_PAE;
        st.efer = EFER_LME | EFER_LMA | EFER_NXE;
    }
    void put(std::uint64_t gpa, std::uint64_t v, unsigned size = 8) {
        REQUIRE(gpa >= PT);
        REQUIRE_OK(mm.access_remote(Hva(PT_HVA + gpa - PT), std::span(reinterpret_cast<std::uint8_t*>(&v), size), true));
    }
    std::uint64_t get(std::uint64_t gpa, unsigned size = 8) {
        std::uint64_t v = 0;
        REQUIRE_OK(mm.access_remote(Hva(PT_HVA + gpa - PT), std::span(reinterpret_cast<std::uint8_t*>(&v), size), false));
        return v;
    }
    // 4-level tables for gva 0x10000 -> gpa 0x10000: PML4 0x200000, PDPT 0x201000, PD 0x202000, PT 0x203000.
    void four_level(std::uint64_t leaf_bits = PTE_W, std::uint64_t table_bits = PTE_W | PTE_U) {
        put(PT, 0x201000 | PTE_P | table_bits);
        put(0x201000, 0x202000 | PTE_P | table_bits);
        put(0x202000, 0x203000 | PTE_P | table_bits);
        put(0x203000 + 0x10 * 8, 0x10000 | PTE_P | leaf_bits);
    }
    guest_walker walk(std::uint64_t gva, WalkAccess a = {}, const WalkOptions& o = {}) {
        return walk_addr_generic(k, *vcpu, st, guest_cpuid(platform), Gva(gva), a, o);
    }
};

std::uint32_t ec(const guest_walker& w) { return w.fault ? w.fault->error_code : 0xdead; }

}  // namespace

TEST_SUITE("page_walker") {

TEST_CASE("4-level: a read sets A on all four levels, a write adds D on the leaf only") {
    WalkVm vm;
    vm.four_level();
    const guest_walker r = vm.walk(0x10008);
    REQUIRE_FALSE(r.fault);
    CHECK(r.gpa == Gpa(0x10008));
    CHECK(r.max_level == 4);
    CHECK(r.level == 1);
    CHECK(vm.get(PT) == (0x201000 | PTE_P | PTE_W | PTE_U | PTE_A));
    CHECK(vm.get(0x201000) == (0x202000 | PTE_P | PTE_W | PTE_U | PTE_A));
    CHECK(vm.get(0x202000) == (0x203000 | PTE_P | PTE_W | PTE_U | PTE_A));
    CHECK(vm.get(0x203080) == (0x10000 | PTE_P | PTE_W | PTE_A));
    const guest_walker w = vm.walk(0x10008, {.write = true});
    REQUIRE_FALSE(w.fault);
    CHECK(vm.get(PT) == (0x201000 | PTE_P | PTE_W | PTE_U | PTE_A));
    CHECK(vm.get(0x203080) == (0x10000 | PTE_P | PTE_W | PTE_A | PTE_D));
    for (unsigned l = 2; l <= 4; ++l) CHECK(w.levels[l - 1].ad == AdUpdate::NotNeeded);
    CHECK(w.levels[0].ad == AdUpdate::Written);
}

TEST_CASE("32-bit: 4-byte entries, 10 index bits; a 4M PSE page with PSE-36 address bits") {
    WalkVm vm;
    vm.st.cr4 = CR4_PSE;
    vm.st.efer = 0;
    vm.put(PT + (0x10000 >> 22) * 4, 0x201000 | PTE_P | PTE_W, 4);
    vm.put(0x201000 + ((0x10000 >> 12) & 1023) * 4, 0x10000 | PTE_P | PTE_W, 4);
    const guest_walker r = vm.walk(0x10004);
    REQUIRE_FALSE(r.fault);
    CHECK(r.gpa == Gpa(0x10004));
    CHECK(vm.get(PT, 4) == (0x201000 | PTE_P | PTE_W | PTE_A));
    CHECK(vm.get(0x201040, 4) == (0x10000 | PTE_P | PTE_W | PTE_A));
    // PDE 1 maps 4M at 0x1_00400000: frame bits 22-31 = 0x00400000, bit 13 carries address bit 32.
    vm.put(PT + 4, 0x00400000 | (1u << 13) | PTE_PS | PTE_P | PTE_W, 4);
    const guest_walker big = vm.walk(0x412345, {}, {.ad_writer = AdWriter::Kvm, .dry_run = true, .before_cmpxchg = {}});
    REQUIRE_FALSE(big.fault);
    CHECK(big.level == 2);
    CHECK(big.gpa == Gpa(0x100412345ULL));
    // Without CR4.PSE the PS bit is ignored: the PDE points to a page table at its frame, 0x402000.
    vm.st.cr4 = 0;
    const guest_walker small = vm.walk(0x412345, {}, {.ad_writer = AdWriter::Kvm, .dry_run = true, .before_cmpxchg = {}});
    REQUIRE(small.fault);
    CHECK(small.levels[0].read_error == PteReadError::NoSlot);  // 0x402000 is past RAM and the tables
}

TEST_CASE("PAE: the walk starts from the PDPTE registers; a not-present PDPTE faults without reading memory") {
    WalkVm vm;
    vm.st.efer = 0;
    vm.st.pdptrs = {0x201000 | PTE_P, 0, 0, 0};
    vm.put(0x201000, 0x202000 | PTE_P | PTE_W | PTE_U);
    vm.put(0x202000 + 0x10 * 8, 0x10000 | PTE_P | PTE_W);
    const guest_walker r = vm.walk(0x10000);
    REQUIRE_FALSE(r.fault);
    CHECK(r.max_level == 2);
    CHECK(r.levels[2].from_pdptr);
    CHECK(vm.get(0x201000) == (0x202000 | PTE_P | PTE_W | PTE_U | PTE_A));
    const guest_walker f = vm.walk(0x40000000, {.write = true});  // PDPTE 1 is not present
    REQUIRE(f.fault);
    CHECK(ec(f) == PFERR_WRITE);
    CHECK(f.level == 3);
}

TEST_CASE("5-level: the PML5E is read first and gets A") {
    WalkVm vm;
    vm.st.cr4 = CR4_PAE | CR4_LA57;
    vm.put(PT, 0x201000 | PTE_P | PTE_W | PTE_U);
    vm.put(0x201000, 0x202000 | PTE_P | PTE_W | PTE_U);
    vm.put(0x202000, 0x203000 | PTE_P | PTE_W | PTE_U);
    vm.put(0x203000, 0x204000 | PTE_P | PTE_W | PTE_U);
    vm.put(0x204080, 0x10000 | PTE_P | PTE_W);
    const guest_walker r = vm.walk(0x10000);
    REQUIRE_FALSE(r.fault);
    CHECK(r.max_level == 5);
    CHECK(vm.get(PT) == (0x201000 | PTE_P | PTE_W | PTE_U | PTE_A));
}

TEST_CASE("#PF error codes: not present, reserved bits, permissions (reference section 5.5)") {
    WalkVm vm;
    vm.four_level();
    CHECK(ec(vm.walk(0x11000)) == 0x0);
    CHECK(ec(vm.walk(0x11000, {.write = true})) == 0x2);
    CHECK(ec(vm.walk(0x11000, {.fetch = true})) == 0x10);
    CHECK(ec(vm.walk(0x11000, {.user = true})) == 0x4);
    vm.put(0x203080, 0x10000 | PTE_P);  // read-only
    CHECK(ec(vm.walk(0x10000, {.write = true})) == 0x3);
    CHECK_FALSE(vm.walk(0x10000).fault);
    vm.st.cr0 &= ~CR0_WP;
    CHECK_FALSE(vm.walk(0x10000, {.write = true}).fault);
    CHECK(ec(vm.walk(0x10000, {.write = true, .user = true})) == 0x7);  // WP does not matter for users
    vm.st.cr0 |= CR0_WP;
    vm.put(0x203080, 0x10000 | PTE_P | PTE_W | (std::uint64_t{1} << 51));
    CHECK(ec(vm.walk(0x10000)) == 0x9);
    CHECK(ec(vm.walk(0x10000, {.write = true})) == 0xb);
    vm.put(0x203080, 0x10000 | PTE_W | (std::uint64_t{1} << 51));  // not present wins
    CHECK(ec(vm.walk(0x10000)) == 0x0);
    vm.put(0x203080, 0x10000 | PTE_P | PTE_W | PTE_NX);
    CHECK(ec(vm.walk(0x10000, {.fetch = true})) == 0x11);
    CHECK_FALSE(vm.walk(0x10000).fault);
    vm.st.efer &= ~EFER_NXE;  // NX becomes a reserved bit; fetch faults lose I/D
    CHECK(ec(vm.walk(0x10000)) == 0x9);
    CHECK(ec(vm.walk(0x11000, {.fetch = true})) == 0x0);
    vm.st.cr4 |= CR4_SMEP;  // with SMEP, I/D is reported again
    CHECK(ec(vm.walk(0x11000, {.fetch = true})) == 0x10);
}

TEST_CASE("reserved bits per level: PS in a PML4E, 2M frame bits, bit 8 in non-leaf entries on AMD only") {
    WalkVm vm;
    vm.four_level();
    vm.put(PT, 0x201000 | PTE_P | PTE_W | PTE_U | PTE_PS);
    CHECK(ec(vm.walk(0x10000)) == 0x9);
    vm.put(PT, 0x201000 | PTE_P | PTE_W | PTE_U | (1u << 8));
    CHECK_FALSE(vm.walk(0x10000).fault);  // Intel guest
    vm.platform = Platform::Svm;
    CHECK(ec(vm.walk(0x10000)) == 0x9);  // AMD guest: bit 8 reserved in non-leaf entries
    vm.platform = Platform::Pvm;
    vm.put(PT, 0x201000 | PTE_P | PTE_W | PTE_U);
    vm.put(0x202000, 0x0 | (1u << 13) | PTE_PS | PTE_P | PTE_W);  // a 2M page with bit 13 set
    CHECK(ec(vm.walk(0x10000)) == 0x9);
    vm.put(0x202000, 0x0 | PTE_PS | PTE_P | PTE_W);
    const guest_walker ok = vm.walk(0x12345);
    REQUIRE_FALSE(ok.fault);
    CHECK(ok.level == 2);
    CHECK(ok.gpa == Gpa(0x12345));
}

TEST_CASE("user and supervisor: U needed at every level for CPL 3; SMAP and SMEP for the kernel") {
    WalkVm vm;
    vm.four_level(PTE_W | PTE_U, PTE_W);  // upper levels without U
    CHECK(ec(vm.walk(0x10000, {.user = true})) == 0x5);
    vm.four_level(PTE_W | PTE_U);
    CHECK_FALSE(vm.walk(0x10000, {.user = true}).fault);
    CHECK_FALSE(vm.walk(0x10000).fault);  // no SMAP: the kernel may read user pages
    vm.st.cr4 |= CR4_SMAP | CR4_SMEP;
    CHECK(ec(vm.walk(0x10000)) == 0x1);
    CHECK(ec(vm.walk(0x10000, {.write = true})) == 0x3);
    CHECK(ec(vm.walk(0x10000, {.fetch = true})) == 0x11);
}

TEST_CASE("page tables in a read-only slot: the walk succeeds and A/D are skipped (ro-page-tables)") {
    WalkVm vm(memflag::Readonly);
    vm.four_level();
    const guest_walker w = vm.walk(0x10000, {.write = true});
    REQUIRE_FALSE(w.fault);
    for (unsigned l = 1; l <= 4; ++l) {
        CAPTURE(l);
        CHECK_FALSE(w.levels[l - 1].pte_writable);
        CHECK(w.levels[l - 1].ad == AdUpdate::SkippedReadOnly);
    }
    CHECK(vm.get(0x203080) == (0x10000 | PTE_P | PTE_W));
    CHECK(vm.get(PT) == (0x201000 | PTE_P | PTE_W | PTE_U));
}

TEST_CASE("page tables in a read-only slot before the patch (v3.11): gfn_to_hva() refuses them, #PF") {
    WalkVm vm(memflag::Readonly, "v3.11", Platform::VmxShadow);
    vm.four_level(PTE_W | PTE_A | PTE_D, PTE_W | PTE_U | PTE_A);
    const guest_walker w = vm.walk(0x10000, {.write = true});
    REQUIRE(w.fault);
    CHECK(ec(w) == 0x2);
    CHECK(w.level == 4);
    CHECK(w.levels[3].read_error == PteReadError::ReadOnlySlot);
    WalkVm after(memflag::Readonly, "v3.12", Platform::VmxShadow);
    after.four_level(PTE_W | PTE_A | PTE_D, PTE_W | PTE_U | PTE_A);
    CHECK_FALSE(after.walk(0x10000, {.write = true}).fault);
}

TEST_CASE("a PTE changed between the walk's read and its cmpxchg: the walk starts again") {
    WalkVm vm;
    vm.four_level();
    int calls = 0;
    WalkOptions o;
    o.before_cmpxchg = [&](Hva hva) {
        // Once, at the leaf: another vCPU remaps the page to 0x30000 (still A clear).
        if (calls++ == 0 && hva == Hva(PT_HVA + 0x3080)) vm.put(0x203080, 0x30000 | PTE_P | PTE_W);
    };
    // The first cmpxchg is on the PML4E; make the leaf's the first one by presetting the upper A bits.
    vm.four_level(PTE_W, PTE_W | PTE_U | PTE_A);
    const guest_walker w = vm.walk(0x10000, {}, o);
    REQUIRE_FALSE(w.fault);
    CHECK(w.walks == 2);
    CHECK(w.gpa == Gpa(0x30000));
    CHECK(vm.get(0x203080) == (0x30000 | PTE_P | PTE_W | PTE_A));
}

TEST_CASE("the A/D write fails on a PROT_READ host mapping: -EFAULT becomes a #PF (replayed on /dev/kvm)") {
    WalkVm vm;
    vm.four_level();
    REQUIRE_OK(vm.mm.mprotect(Hva(PT_HVA), 64 << 10, Prot{.read = true, .write = false, .exec = false}));
    const guest_walker w = vm.walk(0x10000);
    REQUIRE(w.fault);
    CHECK(w.why == WalkFault::AdWriteFailed);
    CHECK(ec(w) == 0x0);
}

TEST_CASE("MMU modes with read-only page tables: EPT overwrites, NPT and shadow skip") {
    for (Platform p : {Platform::Vmx, Platform::Svm, Platform::VmxShadow, Platform::Pvm}) {
        CAPTURE(to_string(p));
        WalkVm vm(memflag::Readonly, "mainline", p);
        vm.four_level();
        const GvaAccessResult r = x86_guest_access_gva(vm.k, *vm.vcpu, p, vm.st, {Gva(0x10000), 8, GvaAccessType::Write, 0, 0x77, {}});
        CHECK(r.access.completed);
        const std::uint64_t leaf = vm.get(0x203080);
        if (p == Platform::Vmx) CHECK(leaf == (0x10000 | PTE_P | PTE_W | PTE_A | PTE_D));
        else CHECK(leaf == (0x10000 | PTE_P | PTE_W));
    }
}

TEST_CASE("fault delivery through the IDT: #PF, then #DF, then KVM_EXIT_SHUTDOWN") {
    WalkVm vm;
    vm.four_level();
    vm.st.idt_base = Gva(0x10000);  // the IDT page is mapped: the #PF is delivered
    GvaAccessResult r = x86_guest_access_gva(vm.k, *vm.vcpu, Platform::Pvm, vm.st, {Gva(0x11000), 8, GvaAccessType::Read, 0, 0, {}});
    REQUIRE(r.access.events.size() == 1);
    CHECK(r.access.events[0].kind == VcpuEvent::Kind::Exception);
    CHECK(r.access.events[0].exception.vector == kPfVector);
    vm.st.idt_base = Gva(0x11000);  // the IDT page is not mapped: #DF, whose gate is unmapped too
    r = x86_guest_access_gva(vm.k, *vm.vcpu, Platform::Pvm, vm.st, {Gva(0x11000), 8, GvaAccessType::Read, 0, 0, {}});
    REQUIRE(r.access.events.size() == 1);
    CHECK(r.access.events[0].kind == VcpuEvent::Kind::Exit);
    CHECK(r.access.events[0].exit == Exit::Shutdown);
    vm.st.idt_base = Gva(0x10f00);  // the #PF gate (0x10fe0) is mapped, so the #PF is delivered
    r = x86_guest_access_gva(vm.k, *vm.vcpu, Platform::Pvm, vm.st, {Gva(0x11000), 8, GvaAccessType::Read, 0, 0, {}});
    CHECK(r.access.events[0].exception.vector == kPfVector);
}

TEST_CASE("page-table builder: refuses what cannot be built, with a reason") {
    PtMemory none{[](Gpa, std::uint64_t& v, unsigned) { return v = 0, true; }, [](Gpa, std::uint64_t, unsigned) { return true; }};
    PtBuildSpec s;
    s.root = Gpa(0x200000);
    s.pool = Gpa(0x201000);
    s.pool_size = 0x1000;
    s.maps = {{Gva(0x10000), Gpa(0x10000), 0x1000, 0x1000, PTE_W, true}};
    CHECK(build_page_tables(s, none).error.has_value());  // 3 tables needed, room for 1
    s.pool_size = 0x3000;
    CHECK_FALSE(build_page_tables(s, none).error.has_value());
    s.maps = {{Gva(0x10000), Gpa(0x10000), 0x200000, 0x200000, PTE_W, true}};
    CHECK(build_page_tables(s, none).error.has_value());  // misaligned 2M page
    s.mode = PagingMode::Pae;
    s.maps = {{Gva(0x40000000), Gpa(0), 0x40000000, 0x40000000, PTE_W, true}};
    CHECK(build_page_tables(s, none).error.has_value());  // no 1G pages in PAE
    s.mode = PagingMode::Bits32;
    s.maps = {{Gva(0), Gpa(0), 0x200000, 0x200000, PTE_W, true}};
    CHECK(build_page_tables(s, none).error.has_value());  // no 2M pages in 32-bit paging
}

TEST_CASE("random page tables in every mode and platform: each access ends in an outcome, never a crash") {
    std::uint64_t seed = 0x9e3779b97f4a7c15ULL;
    auto next = [&] {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        return seed;
    };
    const Platform platforms[] = {Platform::Vmx, Platform::Svm, Platform::VmxShadow, Platform::Pvm};
    for (int round = 0; round < 40; ++round) {
        const Platform p = platforms[round % 4];
        WalkVm vm(round % 3 == 0 ? memflag::Readonly : 0, round % 5 == 0 ? "v3.11" : "mainline", p);
        // Entries that mostly point back into the table slot, with random flag and high bits.
        for (std::uint64_t off = 0; off < (64 << 10); off += 8) {
            const std::uint64_t r = next();
            const std::uint64_t target = (r & 1) ? PT + ((r >> 8) & 0xf000) : ((r >> 8) & 0x1ff000);
            vm.put(PT + off, target | (r & 0xfff) | ((r & 0x100) ? (next() & 0xfff0000000000000ULL) : 0));
        }
        const std::uint64_t cr4s[] = {CR4_PAE, CR4_PAE | CR4_LA57, CR4_PSE, 0, CR4_PAE | CR4_SMEP | CR4_SMAP};
        vm.st.cr4 = cr4s[round % 5];
        vm.st.efer = (vm.st.cr4 & CR4_PAE) && round % 5 != 3 ? EFER_LME | EFER_LMA | (round & 1 ? EFER_NXE : 0) : 0;
        if (round % 5 == 3) vm.st.cr4 = CR4_PAE;  // PAE paging
        vm.st.pdptrs = {next(), next(), next(), next()};
        vm.st.idt_base = (round & 2) ? std::optional(Gva(next() & 0xffff000)) : std::nullopt;
        for (int i = 0; i < 50; ++i) {
            const std::uint64_t r = next();
            const bool lm = vm.st.efer & EFER_LMA;
            const Gva gva(lm ? (r & 0x1ff000ff8ULL) : (r & 0xfffff8ULL));
            const GvaAccessType t = static_cast<GvaAccessType>(r % 3);
            const GvaAccessResult res = x86_guest_access_gva(vm.k, *vm.vcpu, p, vm.st, {gva, 8, t, (r & 8) ? 3u : 0u, r, {}});
            CHECK((res.access.completed || !res.access.events.empty()));
        }
    }
}

}  // TEST_SUITE
