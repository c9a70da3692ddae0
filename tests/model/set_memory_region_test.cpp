// KVM_SET_USER_MEMORY_REGION validation, change types and generations; KVM_CHECK_EXTENSION.
// Expectations: probe table M (reference §9.3, Linux 6.18 on the PVM host), reference §1.2-§1.4
// and §6, and the v3.6/v3.7 kernel source read in notes/v36-v37.md.
#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
constexpr std::uint64_t UA = 0x7f0000000000ULL;  // `ua`: the probe's 64-page anonymous mapping
constexpr std::uint32_t LOG = memflag::LogDirtyPages;
constexpr std::uint32_t RO = memflag::Readonly;
constexpr std::uint32_t BIT3 = 1u << 3;
constexpr std::uint32_t BIT16 = 1u << 16;
constexpr std::uint32_t AS1 = 1u << 16;
constexpr std::uint32_t AS2 = 2u << 16;

struct ProbeVm : Vm {
    explicit ProbeVm(std::string_view profile = "mainline", Platform p = Platform::Pvm) : Vm(profile, p) { map(UA, 64 * PG); }
};
}  // namespace

TEST_SUITE("set_memory_region") {

// ---- flags (M001-M003, M010-M013) ----
TEST_CASE("set_user_memory_region: KVM_MEM_GUEST_MEMFD through the v1 ioctl -> EINVAL (M001)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, memflag::GuestMemfd, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: undefined flag bit 3 -> EINVAL (M002)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, BIT3, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: kernel-internal bit 16 (KVM_MEMSLOT_INVALID) -> EINVAL (M003)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, BIT16, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: every flag bit outside LOG_DIRTY_PAGES|READONLY -> EINVAL (selftest invalid flags)") {
    ProbeVm vm;
    for (unsigned bit = 2; bit < 32; ++bit) {
        CAPTURE(bit);
        CHECK_SET_REGION(vm, EINVAL_, 0, 1u << bit, 0, 512 * PG, 0);
    }
}
TEST_CASE("set_user_memory_region: READONLY slot create and delete -> 0 (M010, M011)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, RO, 0, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 0, UA);
}
TEST_CASE("set_user_memory_region: LOG_DIRTY_PAGES|READONLY create and delete -> 0 (M012, M013)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, LOG | RO, 0, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 0, 0);
}
TEST_CASE("set_user_memory_region: READONLY on an SEV-ES VM (protected state) -> EINVAL") {
    Vm vm("mainline", Platform::Svm, VmType::SevEs);
    CHECK_SET_REGION(vm, EINVAL_, 0, RO, 0, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, LOG, 0, PG, UA);
}

// ---- slot id and address space (M014-M025) ----
TEST_CASE("set_user_memory_region: slot id past the limit -> EINVAL (M014)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 32764, 0, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: last user slot id 32763 create and delete -> 0 (M015, M016)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 32763, 0, 0x100000, PG, UA);
    CHECK_SET_REGION(vm, OK, 32763, 0, 0x100000, 0, UA);
}
TEST_CASE("set_user_memory_region: internal slot ids 32767 and 0xffff -> EINVAL (M017, M018)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 32767, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 0xffff, 0, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: as_id 1 without an SMM address space -> EINVAL (M019)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, AS1, 0, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: deleting as_id 1 slot 0 does not touch as_id 0 slot 0 (M020-M022)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, AS1, 0, 0, 0, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 0, UA);
}
TEST_CASE("set_user_memory_region: as_id 2, as_id 1 with id 32764, both bad plus a bad flag -> EINVAL (M023-M025)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, AS2, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, AS1 | 32764, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, AS2 | 32764, BIT3, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: with SMM (vmx) as_id 1 is a separate address space; as_id 2 -> EINVAL") {
    ProbeVm vm("mainline", Platform::Vmx);
    CHECK_SET_REGION(vm, OK, AS1, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, PG, UA);  // same gpa, other address space: no overlap
    CHECK_SET_REGION(vm, EINVAL_, AS2, 0, 0, PG, UA);
    CHECK(vm.k.memslots(0).size() == 1);
    CHECK(vm.k.memslots(1).size() == 1);
    CHECK_SET_REGION(vm, OK, AS1, 0, 0, 0, 0);
    CHECK(vm.k.memslots(1).size() == 0);
    CHECK(vm.k.memslots(0).size() == 1);
}
TEST_CASE("set_user_memory_region: an SEV-ES VM keeps the SMM address space (only private-memory VMs lose it)") {
    // kvm_arch_nr_memslot_as_ids(kvm) = kvm_arch_has_private_mem(kvm) ? 1 : 2 (arch/x86/include/asm/kvm_host.h);
    // svm_vm_init() sets has_private_mem only for KVM_X86_SNP_VM, so SEV-ES has 2 address spaces.
    Vm vm("mainline", Platform::Svm, VmType::SevEs);
    CHECK(vm.k.nr_as_ids() == 2);
    CHECK_SET_REGION(vm, OK, AS1, 0, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: SNP and TDX VMs (private memory) have one address space, as_id 1 -> EINVAL") {
    Vm snp("mainline", Platform::Svm, VmType::Snp);
    CHECK(snp.k.nr_as_ids() == 1);
    CHECK_SET_REGION(snp, EINVAL_, AS1, 0, 0, PG, UA);
    Vm tdx("mainline", Platform::Vmx, VmType::Tdx);
    CHECK(tdx.k.nr_as_ids() == 1);
    CHECK_SET_REGION(tdx, EINVAL_, AS1, 0, 0, PG, UA);
}
TEST_CASE("set_user_memory_region: all 32764 user slots can be created, the next id -> EINVAL (M110, selftest max regions)") {
    ProbeVm vm;
    for (std::uint32_t i = 0; i < 32764; ++i) {
        const KvmResult r = vm.set(i, 0, std::uint64_t{i} * PG, PG, UA);
        if (r != OK) {
            INFO("slot " << i);
            REQUIRE(r == OK);
        }
    }
    CHECK(vm.k.memslots(0).size() == 32764);
    CHECK(vm.k.nr_memslot_pages() == 32764);
    CHECK_SET_REGION(vm, EINVAL_, 32764, 0, std::uint64_t{32764} * PG, PG, UA);
}

// ---- sizes and alignment (M026-M040) ----
TEST_CASE("set_user_memory_region: memory_size not a multiple of 4096 -> EINVAL (M026, M027)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, PG + 1, UA);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, 2048, UA);
}
TEST_CASE("set_user_memory_region: unaligned guest_phys_addr -> EINVAL (M028)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0x1001, PG, UA);
}
TEST_CASE("set_user_memory_region: unaligned userspace_addr -> EINVAL (M029)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, PG, UA + 1);
}
TEST_CASE("set_user_memory_region: userspace_addr in the kernel half or above 2^47 -> EINVAL (M030, M031)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, PG, 0xffff800000000000ULL);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, PG, 0x0000800000000000ULL);
}
TEST_CASE("set_user_memory_region: the top user page 0x7ffffffff000 can never be in a slot -> EINVAL (M032, M034)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, PG, 0x7ffffffff000ULL);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, 2 * PG, 0x7ffffffff000ULL);
}
TEST_CASE("set_user_memory_region: a slot ending exactly at TASK_SIZE_MAX -> 0, one page more -> EINVAL (M035, M037)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, 0, 0, PG, 0x7fffffffe000ULL);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 0, 0);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, 2 * PG, 0x7fffffffe000ULL);
}
TEST_CASE("set_user_memory_region: unmapped userspace_addr is accepted (mapping not checked) (M038, M040)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, 0, 0, PG, 0);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 0, 0);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 16 * PG, 0x100000000ULL);
}
TEST_CASE("set_user_memory_region: userspace_addr + memory_size wrapping 2^64 -> EINVAL") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, 0xfffffffffffff000ULL, 0x2000);
}
TEST_CASE("set_user_memory_region: guest_phys_addr + memory_size wraps, end == 2^64 counts as a wrap -> EINVAL (M042, M043)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0xfffffffffffff000ULL, 2 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0xfffffffffffff000ULL, PG, UA);
}
TEST_CASE("set_user_memory_region: shadow paging allows gfns below 2^40, a page at 2^52 -> EINVAL (M044, M045, M047)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 1ULL << 52, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, (1ULL << 52) - PG, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, 0, 0);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, (1ULL << 52) - PG, 2 * PG, UA);
}
TEST_CASE("set_user_memory_region: TDP off ignores host MAXPHYADDR 46: gpa 2^46 -> 0 (M048, M049)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, 0, 1ULL << 46, PG, UA);
    CHECK_SET_REGION(vm, OK, 1, 0, (1ULL << 46) - PG, PG, UA);
}
TEST_CASE("set_user_memory_region: TDP on (vmx, MAXPHYADDR 46): a slot past 2^46 -> EINVAL, the last page below -> 0") {
    ProbeVm vm("mainline", Platform::Vmx);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 1ULL << 46, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, (1ULL << 46) - PG, 2 * PG, UA);
    CHECK_SET_REGION(vm, OK, 0, 0, (1ULL << 46) - PG, PG, UA);
}
TEST_CASE("set_user_memory_region: more than KVM_MEM_MAX_NR_PAGES (2^31-1) pages -> EINVAL, exactly that many -> 0 (M051, M052)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, (1ULL << 31) * PG, 0x100000000ULL);
    CHECK_SET_REGION(vm, OK, 0, 0, 0, ((1ULL << 31) - 1) * PG, 0x100000000ULL);
    CHECK(vm.k.nr_memslot_pages() == (1ULL << 31) - 1);
}
TEST_CASE("set_user_memory_region: a 4 GiB slot at an unmapped hva -> 0 (M054)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 0, 0, 0, (1ULL << 20) * PG, 0x100000000ULL);
}

// ---- delete (M056-M061) ----
TEST_CASE("set_user_memory_region: deleting a slot that was never created -> EINVAL (M056)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 5, 0, 0, 0, 0);
}
TEST_CASE("set_user_memory_region: delete with an unaligned gpa is still validated -> EINVAL (M057)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 5, 0, 0x10000, 4 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 5, 0, 0x1234, 0, 0);
    CHECK(vm.k.memslots(0).id_to_memslot(5) != nullptr);
}
TEST_CASE("set_user_memory_region: delete ignores gpa, uaddr and LOG_DIRTY of the request (M058, M059)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 5, 0, 0x10000, 4 * PG, UA);
    CHECK_SET_REGION(vm, OK, 5, LOG, 0x90000, 0, UA + PG);
    CHECK(vm.k.memslots(0).id_to_memslot(5) == nullptr);
    CHECK(vm.k.nr_memslot_pages() == 0);
}
TEST_CASE("set_user_memory_region: deleting twice -> EINVAL; delete with a bad flag -> EINVAL (M060, M061)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 5, 0, 0x10000, 4 * PG, UA);
    CHECK_SET_REGION(vm, OK, 5, 0, 0x10000, 0, UA);
    CHECK_SET_REGION(vm, EINVAL_, 5, 0, 0x10000, 0, UA);
    CHECK_SET_REGION(vm, OK, 5, 0, 0x10000, 4 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 5, BIT3, 0x10000, 0, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(5) != nullptr);
}

// ---- overlap (M062-M070) ----
namespace {
struct OverlapVm : ProbeVm {
    OverlapVm() { REQUIRE_SET_REGION_OK(*this, 1, 0, 0x100000, 16 * PG, UA); }  // M062
};
}  // namespace
TEST_CASE("set_user_memory_region: new slot overlapping another slot's tail -> EEXIST (M063)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EEXIST_, 2, 0, 0x108000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: new slot overlapping another slot's head -> EEXIST (M064)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EEXIST_, 2, 0, 0xf8000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: new slot covering another slot -> EEXIST (M065)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EEXIST_, 2, 0, 0xf0000, 64 * PG, UA);
}
TEST_CASE("set_user_memory_region: new slot strictly inside another slot -> EEXIST") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EEXIST_, 2, 0, 0x104000, PG, UA);
}
TEST_CASE("set_user_memory_region: adjacent slots after and before -> 0 (M066, M067)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, OK, 2, 0, 0x110000, 16 * PG, UA);
    CHECK_SET_REGION(vm, OK, 3, 0, 0xf0000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: two slots aliasing the same userspace_addr -> 0 (M068)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, OK, 4, 0, 0x200000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: overlap plus a bad flag or unaligned size -> EINVAL, not EEXIST (M069, M070)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 6, BIT3, 0x100000, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 6, 0, 0x100000, PG + 1, UA);
}
TEST_CASE("set_user_memory_region: overlap in another address space does not conflict") {
    ProbeVm vm("mainline", Platform::Vmx);
    CHECK_SET_REGION(vm, OK, 1, 0, 0x100000, 16 * PG, UA);
    CHECK_SET_REGION(vm, OK, AS1 | 2, 0, 0x100000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EEXIST_, AS1 | 3, 0, 0x108000, 16 * PG, UA);
}

// ---- modifying an existing slot (M071-M088) ----
TEST_CASE("set_user_memory_region: identical re-set -> 0 and nothing changes (M071)") {
    OverlapVm vm;
    const auto gen = vm.k.memslots(0).generation();
    CHECK_SET_REGION(vm, OK, 1, 0, 0x100000, 16 * PG, UA);
    CHECK(vm.k.memslots(0).generation() == gen);
}
TEST_CASE("set_user_memory_region: changing the size of an existing slot -> EINVAL (M072)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 1, 0, 0x100000, 8 * PG, UA);
}
TEST_CASE("set_user_memory_region: changing userspace_addr of an existing slot -> EINVAL (M073)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 1, 0, 0x100000, 16 * PG, UA + PG);
    CHECK(vm.k.memslots(0).id_to_memslot(1)->userspace_addr == Hva(UA));
}
TEST_CASE("set_user_memory_region: adding READONLY to an existing slot -> EINVAL (M074)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, EINVAL_, 1, RO, 0x100000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: adding and dropping LOG_DIRTY_PAGES (FLAGS_ONLY) -> 0 (M075, M076)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, OK, 1, LOG, 0x100000, 16 * PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(1)->flags == LOG);
    CHECK_SET_REGION(vm, OK, 1, 0, 0x100000, 16 * PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(1)->flags == 0);
}
TEST_CASE("set_user_memory_region: moving a slot (MOVE) -> 0 and lookups follow it (M077)") {
    OverlapVm vm;
    CHECK_SET_REGION(vm, OK, 1, 0, 0x300000, 16 * PG, UA);
    CHECK(vm.k.memslots(0).search_memslots(Gfn(0x100)) == nullptr);
    REQUIRE(vm.k.memslots(0).search_memslots(Gfn(0x30f)) != nullptr);
    CHECK(vm.k.memslots(0).search_memslots(Gfn(0x30f))->id == 1);
}
TEST_CASE("set_user_memory_region: moving onto another slot -> EEXIST; with a size change -> EINVAL first (M078, M079)") {
    OverlapVm vm;
    REQUIRE_SET_REGION_OK(vm, 2, 0, 0x110000, 16 * PG, UA);
    REQUIRE_SET_REGION_OK(vm, 1, 0, 0x300000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EEXIST_, 1, 0, 0x110000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 1, 0, 0x110000, 8 * PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(1)->base_gfn == Gfn(0x300));
}
TEST_CASE("set_user_memory_region: move and toggle LOG_DIRTY_PAGES in one call -> 0 (M080)") {
    OverlapVm vm;
    REQUIRE_SET_REGION_OK(vm, 1, 0, 0x300000, 16 * PG, UA);
    CHECK_SET_REGION(vm, OK, 1, LOG, 0x100000, 16 * PG, UA);
    const kvm_memory_slot* s = vm.k.memslots(0).id_to_memslot(1);
    CHECK(s->base_gfn == Gfn(0x100));
    CHECK(s->flags == LOG);
}
TEST_CASE("set_user_memory_region: moving partly onto another slot -> EEXIST (M081)") {
    OverlapVm vm;
    REQUIRE_SET_REGION_OK(vm, 2, 0, 0x110000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EEXIST_, 1, 0, 0x104000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: a move overlapping only its own old range -> 0 (M082, M083)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 8, 0, 0x700000, 16 * PG, UA);
    CHECK_SET_REGION(vm, OK, 8, 0, 0x704000, 16 * PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(8)->base_gfn == Gfn(0x704));
}
TEST_CASE("set_user_memory_region: MOVE plus setting READONLY -> EINVAL (M084)") {
    ProbeVm vm;
    REQUIRE_SET_REGION_OK(vm, 8, 0, 0x704000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 8, RO, 0x708000, 16 * PG, UA);
}
TEST_CASE("set_user_memory_region: READONLY slot: clear RO -> EINVAL, add LOG_DIRTY -> 0, move -> 0 (M085-M088)") {
    ProbeVm vm;
    CHECK_SET_REGION(vm, OK, 7, RO, 0x500000, 4 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 7, 0, 0x500000, 4 * PG, UA);
    CHECK_SET_REGION(vm, OK, 7, RO | LOG, 0x500000, 4 * PG, UA);
    CHECK_SET_REGION(vm, OK, 7, RO | LOG, 0x600000, 4 * PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(7)->base_gfn == Gfn(0x600));
}
TEST_CASE("set_user_memory_region: a failed MOVE leaves the slot where it was") {
    ProbeVm vm;
    REQUIRE_SET_REGION_OK(vm, 1, 0, 0x100000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 1, 0, 1ULL << 52, 16 * PG, UA);  // kvm_arch_prepare_memory_region refuses
    CHECK(vm.k.memslots(0).search_memslots(Gfn(0x100)) != nullptr);
}

// The whole probe_memslot.c sequence M001-M088 in one VM, in order (v2/guest_memfd rows left out).
TEST_CASE("set_user_memory_region: probe_memslot M-table replayed in order on the PVM platform") {
    ProbeVm vm;
    struct Row {
        const char* id;
        std::uint32_t slot, flags;
        std::uint64_t gpa, size, uaddr;
        KvmResult expect;
    };
    const Row rows[] = {
        {"M001", 0, memflag::GuestMemfd, 0, PG, UA, EINVAL_},
        {"M002", 0, BIT3, 0, PG, UA, EINVAL_},
        {"M003", 0, BIT16, 0, PG, UA, EINVAL_},
        {"M010", 0, RO, 0, PG, UA, OK},
        {"M011", 0, 0, 0, 0, UA, OK},
        {"M012", 0, 3, 0, PG, UA, OK},
        {"M013", 0, 0, 0, 0, 0, OK},
        {"M014", 32764, 0, 0, PG, UA, EINVAL_},
        {"M015", 32763, 0, 0x100000, PG, UA, OK},
        {"M016", 32763, 0, 0x100000, 0, UA, OK},
        {"M017", 32767, 0, 0, PG, UA, EINVAL_},
        {"M018", 0xffff, 0, 0, PG, UA, EINVAL_},
        {"M019", AS1, 0, 0, PG, UA, EINVAL_},
        {"M020", 0, 0, 0, PG, UA, OK},
        {"M021", AS1, 0, 0, 0, UA, EINVAL_},
        {"M022", 0, 0, 0, 0, UA, OK},
        {"M023", AS2, 0, 0, PG, UA, EINVAL_},
        {"M024", AS1 | 32764, 0, 0, PG, UA, EINVAL_},
        {"M025", AS2 | 32764, BIT3, 0, PG, UA, EINVAL_},
        {"M026", 0, 0, 0, PG + 1, UA, EINVAL_},
        {"M027", 0, 0, 0, 2048, UA, EINVAL_},
        {"M028", 0, 0, 0x1001, PG, UA, EINVAL_},
        {"M029", 0, 0, 0, PG, UA + 1, EINVAL_},
        {"M030", 0, 0, 0, PG, 0xffff800000000000ULL, EINVAL_},
        {"M031", 0, 0, 0, PG, 0x0000800000000000ULL, EINVAL_},
        {"M032", 0, 0, 0, PG, 0x7ffffffff000ULL, EINVAL_},
        {"M033", 0, 0, 0, 0, 0, EINVAL_},  // nothing was created by M032
        {"M034", 0, 0, 0, 2 * PG, 0x7ffffffff000ULL, EINVAL_},
        {"M035", 0, 0, 0, PG, 0x7fffffffe000ULL, OK},
        {"M036", 0, 0, 0, 0, 0, OK},
        {"M037", 0, 0, 0, 2 * PG, 0x7fffffffe000ULL, EINVAL_},
        {"M038", 0, 0, 0, PG, 0, OK},
        {"M039", 0, 0, 0, 0, 0, OK},
        {"M040", 0, 0, 0, 16 * PG, 0x100000000ULL, OK},
        {"M041", 0, 0, 0, 0, 0, OK},
        {"M042", 0, 0, 0xfffffffffffff000ULL, 2 * PG, UA, EINVAL_},
        {"M043", 0, 0, 0xfffffffffffff000ULL, PG, UA, EINVAL_},
        {"M044", 0, 0, 1ULL << 52, PG, UA, EINVAL_},
        {"M045", 0, 0, (1ULL << 52) - PG, PG, UA, OK},
        {"M046", 0, 0, 0, 0, 0, OK},
        {"M047", 0, 0, (1ULL << 52) - PG, 2 * PG, UA, EINVAL_},
        {"M048", 0, 0, 1ULL << 46, PG, UA, OK},
        // M049 creates slot 0 again while M048's slot 0 exists: a MOVE by one page onto its own range.
        {"M049", 0, 0, (1ULL << 46) - PG, PG, UA, OK},
        {"M050", 0, 0, 0, 0, 0, OK},
        {"M051", 0, 0, 0, (1ULL << 31) * PG, 0x100000000ULL, EINVAL_},
        {"M052", 0, 0, 0, ((1ULL << 31) - 1) * PG, 0x100000000ULL, OK},
        {"M053", 0, 0, 0, 0, 0, OK},
        {"M054", 0, 0, 0, (1ULL << 20) * PG, 0x100000000ULL, OK},
        {"M055", 0, 0, 0, 0, 0, OK},
        {"M056", 5, 0, 0, 0, 0, EINVAL_},
        {"M057", 5, 0, 0x1234, 0, 0, EINVAL_},
        {"M058", 5, 0, 0x10000, 4 * PG, UA, OK},
        {"M059", 5, LOG, 0x90000, 0, UA + PG, OK},
        {"M060", 5, 0, 0x10000, 0, UA, EINVAL_},
        {"M061", 5, BIT3, 0x10000, 0, UA, EINVAL_},
        {"M062", 1, 0, 0x100000, 16 * PG, UA, OK},
        {"M063", 2, 0, 0x108000, 16 * PG, UA, EEXIST_},
        {"M064", 2, 0, 0xf8000, 16 * PG, UA, EEXIST_},
        {"M065", 2, 0, 0xf0000, 64 * PG, UA, EEXIST_},
        {"M066", 2, 0, 0x110000, 16 * PG, UA, OK},
        {"M067", 3, 0, 0xf0000, 16 * PG, UA, OK},
        {"M068", 4, 0, 0x200000, 16 * PG, UA, OK},
        {"M069", 6, BIT3, 0x100000, PG, UA, EINVAL_},
        {"M070", 6, 0, 0x100000, PG + 1, UA, EINVAL_},
        {"M071", 1, 0, 0x100000, 16 * PG, UA, OK},
        {"M072", 1, 0, 0x100000, 8 * PG, UA, EINVAL_},
        {"M073", 1, 0, 0x100000, 16 * PG, UA + PG, EINVAL_},
        {"M074", 1, RO, 0x100000, 16 * PG, UA, EINVAL_},
        {"M075", 1, LOG, 0x100000, 16 * PG, UA, OK},
        {"M076", 1, 0, 0x100000, 16 * PG, UA, OK},
        {"M077", 1, 0, 0x300000, 16 * PG, UA, OK},
        {"M078", 1, 0, 0x110000, 16 * PG, UA, EEXIST_},
        {"M079", 1, 0, 0x110000, 8 * PG, UA, EINVAL_},
        {"M080", 1, LOG, 0x100000, 16 * PG, UA, OK},
        {"M081", 1, LOG, 0x104000, 16 * PG, UA, EEXIST_},
        {"M082", 8, 0, 0x700000, 16 * PG, UA, OK},
        {"M083", 8, 0, 0x704000, 16 * PG, UA, OK},
        {"M084", 8, RO, 0x708000, 16 * PG, UA, EINVAL_},
        {"M085", 7, RO, 0x500000, 4 * PG, UA, OK},
        {"M086", 7, 0, 0x500000, 4 * PG, UA, EINVAL_},
        {"M087", 7, RO | LOG, 0x500000, 4 * PG, UA, OK},
        {"M088", 7, RO | LOG, 0x600000, 4 * PG, UA, OK},
    };
    for (const Row& r : rows) {
        INFO(r.id);
        CHECK_SET_REGION(vm, r.expect, r.slot, r.flags, r.gpa, r.size, r.uaddr);
    }
}

// ---- nr_memslot_pages ----
TEST_CASE("set_user_memory_region: nr_memslot_pages counts create and delete, not move or flags") {
    ProbeVm vm;
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 16 * PG, UA);
    REQUIRE_SET_REGION_OK(vm, 1, 0, 0x100000, 4 * PG, UA);
    CHECK(vm.k.nr_memslot_pages() == 20);
    REQUIRE_SET_REGION_OK(vm, 1, LOG, 0x200000, 4 * PG, UA);
    CHECK(vm.k.nr_memslot_pages() == 20);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 0, 0);
    CHECK(vm.k.nr_memslot_pages() == 4);
}

// ---- generations (reference §1.3) ----
TEST_CASE("generation: starts at as_id and advances by nr_as_ids per swap; CREATE and FLAGS_ONLY once, MOVE and DELETE twice") {
    ProbeVm vm;  // one address space
    const kvm_memslots& s = vm.k.memslots(0);
    CHECK(s.generation() == 0);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 16 * PG, UA);
    CHECK(s.generation() == 1);
    REQUIRE_SET_REGION_OK(vm, 0, LOG, 0, 16 * PG, UA);
    CHECK(s.generation() == 2);
    REQUIRE_SET_REGION_OK(vm, 0, LOG, 0x100000, 16 * PG, UA);
    CHECK(s.generation() == 4);
    REQUIRE_SET_REGION_OK(vm, 0, LOG, 0x100000, 16 * PG, UA);  // identical: no swap
    CHECK(s.generation() == 4);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 0, 0);
    CHECK(s.generation() == 6);
}
TEST_CASE("generation: refused requests do not swap the memslots") {
    ProbeVm vm;
    const kvm_memslots& s = vm.k.memslots(0);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 16 * PG, UA);
    const auto gen = s.generation();
    CHECK_SET_REGION(vm, EEXIST_, 1, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 2, 0, 0, 0, 0);
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, 8 * PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 3, 0, 1ULL << 52, PG, UA);  // CREATE refused by arch prepare: nothing installed
    CHECK(s.generation() == gen);
}
TEST_CASE("generation: a MOVE refused by arch prepare swaps twice (INVALID copy installed, then the old slot restored)") {
    ProbeVm vm;
    const kvm_memslots& s = vm.k.memslots(0);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 16 * PG, UA);
    const auto gen = s.generation();
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 1ULL << 52, 16 * PG, UA);
    CHECK(s.generation() == gen + 2);
}
TEST_CASE("generation: with two address spaces, as 0 uses 0,2,4,... and as 1 uses 1,3,5,...") {
    ProbeVm vm("mainline", Platform::Vmx);
    REQUIRE(vm.k.nr_as_ids() == 2);
    CHECK(vm.k.memslots(0).generation() == 0);
    CHECK(vm.k.memslots(1).generation() == 1);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 16 * PG, UA);
    CHECK(vm.k.memslots(0).generation() == 2);
    CHECK(vm.k.memslots(1).generation() == 1);
    REQUIRE_SET_REGION_OK(vm, AS1, 0, 0, 16 * PG, UA);
    CHECK(vm.k.memslots(1).generation() == 3);
    REQUIRE_SET_REGION_OK(vm, AS1, 0, 0x100000, 16 * PG, UA);  // MOVE
    CHECK(vm.k.memslots(1).generation() == 7);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 0, 0);  // DELETE
    CHECK(vm.k.memslots(0).generation() == 6);
    CHECK(vm.k.memslots(1).generation() == 7);
}

// ---- v3.6 / v3.7 (notes/v36-v37.md, from the v3.6 and v3.7 kvm_main.c) ----
TEST_CASE("set_user_memory_region v3.6: no flag check, bits 3 and 16 are stored -> 0") {
    ProbeVm vm("v3.6");
    CHECK_SET_REGION(vm, OK, 0, BIT3, 0, PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(0)->flags == BIT3);
    CHECK_SET_REGION(vm, OK, 1, BIT16, 0x100000, PG, UA);
}
TEST_CASE("set_user_memory_region v3.6: 32 user slots: slot 31 -> 0, slot 32 and 0x10000 -> EINVAL") {
    ProbeVm vm("v3.6");
    CHECK_SET_REGION(vm, OK, 31, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 32, 0, 0x100000, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, AS1, 0, 0x200000, PG, UA);
}
TEST_CASE("set_user_memory_region v3.6 and v3.7: deleting an absent slot -> 0") {
    for (const char* p : {"v3.6", "v3.7"}) {
        CAPTURE(p);
        ProbeVm vm(p);
        CHECK_SET_REGION(vm, OK, 5, 0, 0, 0, 0);
    }
}
TEST_CASE("set_user_memory_region v3.6 and v3.7: changing userspace_addr is ignored -> 0, the slot keeps its address") {
    for (const char* p : {"v3.6", "v3.7"}) {
        CAPTURE(p);
        ProbeVm vm(p);
        REQUIRE_SET_REGION_OK(vm, 1, 0, 0x100000, 16 * PG, UA);
        CHECK_SET_REGION(vm, OK, 1, 0, 0x100000, 16 * PG, UA + PG);
        CHECK(vm.k.memslots(0).id_to_memslot(1)->userspace_addr == Hva(UA));
        const HvaLookup h = gfn_to_hva(vm.k, Gfn(0x100));
        CHECK(h.ok());
        CHECK(h.hva == Hva(UA));
        // A move with a changed uaddr moves the slot and still keeps the old address.
        CHECK_SET_REGION(vm, OK, 1, 0, 0x300000, 16 * PG, UA + 2 * PG);
        CHECK(vm.k.memslots(0).id_to_memslot(1)->base_gfn == Gfn(0x300));
        CHECK(vm.k.memslots(0).id_to_memslot(1)->userspace_addr == Hva(UA));
    }
}
TEST_CASE("set_user_memory_region v3.6 and v3.7: changing the size of a slot -> EINVAL") {
    for (const char* p : {"v3.6", "v3.7"}) {
        CAPTURE(p);
        ProbeVm vm(p);
        REQUIRE_SET_REGION_OK(vm, 1, 0, 0x100000, 16 * PG, UA);
        CHECK_SET_REGION(vm, EINVAL_, 1, 0, 0x100000, 8 * PG, UA);
    }
}
TEST_CASE("set_user_memory_region v3.6: a zero-size request strictly inside another slot -> EEXIST") {
    ProbeVm vm("v3.6");
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0x100000, 16 * PG, UA);
    CHECK_SET_REGION(vm, EEXIST_, 5, 0, 0x104000, 0, 0);
    CHECK_SET_REGION(vm, OK, 5, 0, 0x100000, 0, 0);  // at the base: not strictly inside
    CHECK_SET_REGION(vm, OK, 5, 0, 0x110000, 0, 0);  // at the end: outside
}
TEST_CASE("set_user_memory_region v3.6: no kvm_mmu_max_gfn() check: gpa 2^52 -> 0") {
    ProbeVm vm("v3.6");
    CHECK_SET_REGION(vm, OK, 0, 0, 1ULL << 52, PG, UA);
}
TEST_CASE("set_user_memory_region v3.6: KVM_MEM_MAX_NR_PAGES already applies -> EINVAL") {
    ProbeVm vm("v3.6");
    CHECK_SET_REGION(vm, EINVAL_, 0, 0, 0, (1ULL << 31) * PG, 0x100000000ULL);
}
TEST_CASE("set_user_memory_region v3.7: only LOG_DIRTY_PAGES and READONLY are valid: bits 2, 3, 16 -> EINVAL") {
    ProbeVm vm("v3.7");
    CHECK_SET_REGION(vm, EINVAL_, 0, 1u << 2, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 0, BIT3, 0, PG, UA);
    CHECK_SET_REGION(vm, EINVAL_, 0, BIT16, 0, PG, UA);
    CHECK_SET_REGION(vm, OK, 0, RO | LOG, 0, PG, UA);
}
TEST_CASE("set_user_memory_region v3.7: the slot limit is still 32") {
    ProbeVm vm("v3.7");
    CHECK_SET_REGION(vm, EINVAL_, 32, 0, 0, PG, UA);
    CHECK_SET_REGION(vm, OK, 31, 0, 0, PG, UA);
}
TEST_CASE("set_user_memory_region v3.7: toggling READONLY on an existing slot -> 0 (restricted only in 3.9)") {
    ProbeVm vm("v3.7");
    REQUIRE_SET_REGION_OK(vm, 1, 0, 0x100000, 16 * PG, UA);
    CHECK_SET_REGION(vm, OK, 1, RO, 0x100000, 16 * PG, UA);
    CHECK(vm.k.memslots(0).id_to_memslot(1)->flags == RO);
}

}  // TEST_SUITE

// ---- KVM_CHECK_EXTENSION (reference §6, probe C1; v3.6/v3.7 from notes/v36-v37.md §3) ----
TEST_SUITE("capabilities") {

TEST_CASE("check_extension mainline on the PVM host: the C1 probe values, on the VM fd and /dev/kvm") {
    Vm vm("mainline", Platform::Pvm);
    const std::pair<Cap, long> expected[] = {
        {Cap::UserMemory, 1},
        {Cap::SyncMmu, 1},
        {Cap::DestroyMemoryRegionWorks, 1},
        {Cap::JoinMemoryRegionsWorks, 1},
        {Cap::NrMemslots, 32764},
        {Cap::ReadonlyMem, 1},
        {Cap::MultiAddressSpace, 0},
        {Cap::UserMemory2, 1},
        {Cap::MemoryFaultInfo, 1},
        {Cap::GuestMemfd, 1},
        {Cap::MemoryAttributes, 0},
        {Cap::VmTypes, 1},
        {Cap::ManualDirtyLogProtect2, 3},
        {Cap::DirtyLogRing, 1048576},
        {Cap::CoalescedMmio, 2},
        {static_cast<Cap>(9999), 0},
    };
    for (const auto& entry : expected) {
        // Plain locals: clang 14 cannot capture a structured binding in INFO's lambda.
        const Cap cap = entry.first;
        const auto value = entry.second;
        INFO(to_string(cap));
        CHECK(vm.k.check_extension(cap, CheckOn::VmFd) == value);
        CHECK(vm.k.check_extension(cap, CheckOn::SystemFd) == value);
    }
}
TEST_CASE("check_extension: KVM_CAP_MULTI_ADDRESS_SPACE with SMM: 2 on /dev/kvm, nr_as_ids on the VM fd") {
    // if (kvm) return kvm_arch_nr_memslot_as_ids(kvm); return KVM_MAX_NR_ADDRESS_SPACES; (virt/kvm/kvm_main.c, >= 6.8)
    Vm vmx("mainline", Platform::Vmx);
    CHECK(vmx.k.check_extension(Cap::MultiAddressSpace, CheckOn::VmFd) == 2);
    CHECK(vmx.k.check_extension(Cap::MultiAddressSpace, CheckOn::SystemFd) == 2);
}
TEST_CASE("check_extension: KVM_CAP_MULTI_ADDRESS_SPACE on a TDX VM fd is 1 (one address space), /dev/kvm still 2") {
    Vm tdx("mainline", Platform::Vmx, VmType::Tdx);
    CHECK(tdx.k.check_extension(Cap::MultiAddressSpace, CheckOn::VmFd) == 1);
    CHECK(tdx.k.check_extension(Cap::MultiAddressSpace, CheckOn::SystemFd) == 2);
}
TEST_CASE("check_extension: KVM_CAP_READONLY_MEM is 0 on an SEV-ES or SNP VM fd, 1 on /dev/kvm") {
    for (VmType t : {VmType::SevEs, VmType::Snp}) {
        CAPTURE(to_string(t));
        Vm vm("mainline", Platform::Svm, t);
        CHECK(vm.k.check_extension(Cap::ReadonlyMem, CheckOn::VmFd) == 0);
        CHECK(vm.k.check_extension(Cap::ReadonlyMem, CheckOn::SystemFd) == 1);
    }
}
TEST_CASE("check_extension v3.6: 32 memslots, no READONLY_MEM, no MULTI_ADDRESS_SPACE") {
    Vm vm("v3.6", Platform::Vmx);
    CHECK(vm.k.check_extension(Cap::NrMemslots) == 32);
    CHECK(vm.k.check_extension(Cap::ReadonlyMem) == 0);
    CHECK(vm.k.check_extension(Cap::MultiAddressSpace) == 0);
    CHECK(vm.k.check_extension(Cap::UserMemory) == 1);
    CHECK(vm.k.check_extension(Cap::CoalescedMmio) == 2);
}
TEST_CASE("check_extension v3.7: READONLY_MEM = 1, still 32 memslots") {
    Vm vm("v3.7", Platform::Vmx);
    CHECK(vm.k.check_extension(Cap::ReadonlyMem) == 1);
    CHECK(vm.k.check_extension(Cap::NrMemslots) == 32);
    CHECK(vm.k.check_extension(Cap::MultiAddressSpace) == 0);
}
TEST_CASE("enable_cap: KVM_CAP_MEMORY_FAULT_INFO cannot be enabled -> EINVAL (probe G note)") {
    Vm vm;
    CHECK(vm.k.enable_cap(Cap::MemoryFaultInfo, 0, {}) == EINVAL_);
}
TEST_CASE("enable_cap: MANUAL_DIRTY_LOG_PROTECT2 accepts ENABLE|INITIALLY_SET, other bits -> EINVAL") {
    Vm vm;
    CHECK(vm.k.enable_cap(Cap::ManualDirtyLogProtect2, 0, {4, 0, 0, 0}) == EINVAL_);
    CHECK(vm.k.enable_cap(Cap::ManualDirtyLogProtect2, 0, {3, 0, 0, 0}) == OK);
}

}  // TEST_SUITE
