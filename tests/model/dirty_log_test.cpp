// KVM_GET_DIRTY_LOG / KVM_CLEAR_DIRTY_LOG: probe rows M099-M109 (reference §9.3) and §1.5.
#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
constexpr std::uint64_t UA = 0x7f0000000000ULL;
constexpr std::uint64_t BIG_UA = 0x100000000000ULL;  // room for a 1 TiB mapping below TASK_SIZE
constexpr std::uint32_t LOG = memflag::LogDirtyPages;

// The probe's state when it reaches the dirty-log rows: slot 1 logging (16 pages), slot 2 not.
struct DirtyVm : Vm {
    DirtyVm() {
        map(UA, 64 * PG);
        REQUIRE_SET_REGION_OK(*this, 1, LOG, 0x100000, 16 * PG, UA);
        REQUIRE_SET_REGION_OK(*this, 2, 0, 0x110000, 16 * PG, UA);
    }
};
std::vector<std::uint64_t> all_ones(std::size_t words) { return std::vector<std::uint64_t>(words, ~std::uint64_t{0}); }
}  // namespace

TEST_SUITE("dirty_log") {

TEST_CASE("get_dirty_log: slot without LOG_DIRTY_PAGES or absent -> ENOENT (M099, M100)") {
    DirtyVm vm;
    CHECK(vm.k.get_dirty_log(2).result == KvmResult::error(Errno::Enoent));
    CHECK(vm.k.get_dirty_log(9).result == KvmResult::error(Errno::Enoent));
}
TEST_CASE("get_dirty_log: slot id 32764 or as_id 2 -> EINVAL (M101, M102)") {
    DirtyVm vm;
    CHECK(vm.k.get_dirty_log(32764).result == EINVAL_);
    CHECK(vm.k.get_dirty_log(2u << 16).result == EINVAL_);
}
TEST_CASE("get_dirty_log: logging slot, nothing written -> 0 with an all-zero bitmap (M103)") {
    DirtyVm vm;
    const DirtyLog log = vm.k.get_dirty_log(1);
    CHECK(log.result == OK);
    REQUIRE(log.bitmap.size() == 1);  // ALIGN(16, 64) / 8 bytes
    CHECK(log.bitmap[0] == 0);
}
TEST_CASE("clear_dirty_log: works without manual protect; first_page % 64 or num_pages past the slot -> EINVAL (M105-M108)") {
    DirtyVm vm;
    CHECK(vm.k.clear_dirty_log(1, 0, 16, all_ones(1)) == OK);
    CHECK(vm.k.clear_dirty_log(1, 1, 16, all_ones(1)) == EINVAL_);
    CHECK(vm.k.clear_dirty_log(1, 0, 17, all_ones(1)) == EINVAL_);
    CHECK(vm.k.clear_dirty_log(1, 0, 0, std::vector<std::uint64_t>{}) == OK);
}
TEST_CASE("clear_dirty_log: slot without LOG_DIRTY_PAGES -> ENOENT (M109)") {
    DirtyVm vm;
    CHECK(vm.k.clear_dirty_log(2, 0, 16, all_ones(1)) == KvmResult::error(Errno::Enoent));
}
TEST_CASE("clear_dirty_log: num_pages not a multiple of 64 short of the slot end -> EINVAL") {
    Vm vm;
    REQUIRE_SET_REGION_OK(vm, 1, LOG, 0, 200 * PG, UA);
    CHECK(vm.k.clear_dirty_log(1, 0, 100, all_ones(2)) == EINVAL_);
    CHECK(vm.k.clear_dirty_log(1, 0, 128, all_ones(2)) == OK);
    CHECK(vm.k.clear_dirty_log(1, 128, 72, all_ones(2)) == OK);  // reaches the end
    CHECK(vm.k.clear_dirty_log(1, 192, 9, all_ones(1)) == EINVAL_);
}
TEST_CASE("get_dirty_log: kvm_write_guest marks the page; without manual protect the read takes the bits") {
    DirtyVm vm;
    const std::uint8_t byte = 0x5a;
    REQUIRE_OK(kvm_write_guest(vm.k, Gpa(0x103008), std::span(&byte, 1)));
    DirtyLog log = vm.k.get_dirty_log(1);
    REQUIRE(log.result == OK);
    CHECK(log.bitmap[0] == (1u << 3));
    log = vm.k.get_dirty_log(1);
    CHECK(log.bitmap[0] == 0);
}
TEST_CASE("get_dirty_log: with manual protect the read leaves the bits; clear_dirty_log clears only the requested ones") {
    DirtyVm vm;
    REQUIRE_OK(vm.k.enable_cap(Cap::ManualDirtyLogProtect2, 0, {dirtylog::ManualProtectEnable, 0, 0, 0}));
    const std::uint8_t byte = 1;
    REQUIRE_OK(kvm_write_guest(vm.k, Gpa(0x101000), std::span(&byte, 1)));
    REQUIRE_OK(kvm_write_guest(vm.k, Gpa(0x102000), std::span(&byte, 1)));
    CHECK(vm.k.get_dirty_log(1).bitmap[0] == 0b110);
    CHECK(vm.k.get_dirty_log(1).bitmap[0] == 0b110);
    REQUIRE_OK(vm.k.clear_dirty_log(1, 0, 16, std::vector<std::uint64_t>{0b010}));
    CHECK(vm.k.get_dirty_log(1).bitmap[0] == 0b100);
}
TEST_CASE("get_dirty_log: KVM_DIRTY_LOG_INITIALLY_SET starts a new logging slot all dirty") {
    Vm vm;
    REQUIRE_OK(vm.k.enable_cap(Cap::ManualDirtyLogProtect2, 0, {3, 0, 0, 0}));
    REQUIRE_SET_REGION_OK(vm, 1, LOG, 0, 16 * PG, UA);
    CHECK(vm.k.get_dirty_log(1).bitmap[0] == 0xffff);
}
TEST_CASE("get_dirty_log: turning logging off and on again starts from a clean bitmap") {
    DirtyVm vm;
    const std::uint8_t byte = 1;
    REQUIRE_OK(kvm_write_guest(vm.k, Gpa(0x100000), std::span(&byte, 1)));
    REQUIRE_SET_REGION_OK(vm, 1, 0, 0x100000, 16 * PG, UA);
    CHECK(vm.k.get_dirty_log(1).result == KvmResult::error(Errno::Enoent));
    REQUIRE_SET_REGION_OK(vm, 1, LOG, 0x100000, 16 * PG, UA);
    CHECK(vm.k.get_dirty_log(1).bitmap[0] == 0);
}
TEST_CASE("get_dirty_log: the bitmap survives a MOVE while logging stays on") {
    DirtyVm vm;
    const std::uint8_t byte = 1;
    REQUIRE_OK(kvm_write_guest(vm.k, Gpa(0x105000), std::span(&byte, 1)));
    REQUIRE_SET_REGION_OK(vm, 1, LOG, 0x400000, 16 * PG, UA);
    CHECK(vm.k.get_dirty_log(1).bitmap[0] == (1u << 5));
}

TEST_CASE("DirtyBitmap: 2^31 pages all set is one run; word ops split and join runs; the count is exact") {
    DirtyBitmap b(std::uint64_t{1} << 31);
    b.set_all();
    CHECK(b.nr_runs() == 1);
    CHECK(b.count() == (std::uint64_t{1} << 31));
    b.andnot(5, DirtyBitmap::from_words({0b1, 0, ~std::uint64_t{0}}), 3);
    CHECK(b.word(4) == ~std::uint64_t{0});
    CHECK(b.word(5) == ~std::uint64_t{1});
    CHECK(b.word(6) == ~std::uint64_t{0});
    CHECK(b.word(7) == 0);
    CHECK(b.word(8) == ~std::uint64_t{0});
    CHECK(b.count() == (std::uint64_t{1} << 31) - 65);
    CHECK(b.well_formed());
    b.set(5 * 64);
    b.set(7 * 64 + 63);
    CHECK(b.word(7) == std::uint64_t{1} << 63);
    CHECK(b.well_formed());
    b.clear_all();
    CHECK(b.count() == 0);
    CHECK_FALSE(b.empty());
    // A partial last word holds only the slot's pages.
    DirtyBitmap c(70);
    c.set_all();
    CHECK(c.word(1) == 0x3f);
    c.set(70);  // past the slot: ignored
    CHECK(c.count() == 70);
}
TEST_CASE("clear_dirty_log: an out-of-range request on a 1 TiB INITIALLY_SET slot -> EINVAL, the bitmap untouched") {
    Vm vm;
    vm.map(BIG_UA, std::uint64_t{1} << 40);
    REQUIRE_OK(vm.k.enable_cap(Cap::ManualDirtyLogProtect2, 0, {dirtylog::ManualProtectEnable | dirtylog::InitiallySet, 0, 0, 0}));
    REQUIRE_SET_REGION_OK(vm, 1, LOG, 0, std::uint64_t{1} << 40, BIG_UA);
    CHECK(vm.k.clear_dirty_log(1, 64, 0xffffffffu, all_ones(1)) == EINVAL_);
    const DirtyLog log = vm.k.get_dirty_log(1);
    CHECK(log.bitmap.count() == (std::uint64_t{1} << 28));
    REQUIRE_OK(vm.k.clear_dirty_log(1, 0, 128, all_ones(2)));
    CHECK(vm.k.get_dirty_log(1).bitmap.count() == (std::uint64_t{1} << 28) - 128);
}

}  // TEST_SUITE
