// Transparent huge pages on HostMm's anonymous fault path (do_huge_pmd_anonymous_page(),
// __split_huge_pmd(), mm/huge_memory.c) and the sysfs mode they follow.
#include "sim/host_description.h"
#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
constexpr Prot RW{.read = true, .write = true};
constexpr std::uint64_t M2 = std::uint64_t{2} << 20;
constexpr std::uint64_t A = 0x40000000;  // 2M-aligned
}  // namespace

TEST_SUITE("host_mm") {

TEST_CASE("the bracketed word of /sys/kernel/mm/transparent_hugepage/enabled is the mode") {
    CHECK(sim::parse_thp_enabled("[always] madvise never\n") == ThpMode::Always);
    CHECK(sim::parse_thp_enabled("always [madvise] never") == ThpMode::Madvise);
    CHECK(sim::parse_thp_enabled("always madvise [never]") == ThpMode::Never);
    CHECK(sim::parse_thp_enabled("") == ThpMode::Never);           // no THP in the kernel
    CHECK(sim::parse_thp_enabled("[bogus] never") == ThpMode::Never);
}
TEST_CASE("always: a read of an aligned 2M of anonymous memory maps it with the huge zero page") {
    HostMm mm;
    mm.set_thp_mode(ThpMode::Always);
    REQUIRE_OK(mm.mmap(Hva(A), 2 * M2, RW, MappingKind::Anonymous, "ram"));
    const GupResult r = mm.get_user_page(Hva(A + 5 * PG), false);
    REQUIRE(r.pfn);
    CHECK(mm.get_user_mapping_size(Hva(A + 5 * PG)) == M2);
    CHECK(mm.get_user_mapping_size(Hva(A + M2 - PG)) == M2);
    CHECK(mm.get_user_mapping_size(Hva(A + M2)) == PG);  // the next 2M is untouched
    // A second read of the range finds the zero page's next pfn: one huge page, contiguous.
    const GupResult r2 = mm.get_user_page(Hva(A + 6 * PG), false);
    REQUIRE(r2.pfn);
    CHECK(r2.pfn->value() == r.pfn->value() + 1);
}
TEST_CASE("always: a write gets a huge page of its own; MADV_DONTNEED of one page splits it") {
    HostMm mm;
    mm.set_thp_mode(ThpMode::Always);
    REQUIRE_OK(mm.mmap(Hva(A), M2, RW, MappingKind::Anonymous, "ram"));
    REQUIRE(mm.get_user_page(Hva(A), true).pfn);
    CHECK(mm.get_user_mapping_size(Hva(A)) == M2);
    HvaRange zapped;
    REQUIRE_OK(mm.madvise_dontneed(Hva(A + PG), PG, zapped));
    CHECK(mm.get_user_mapping_size(Hva(A)) == PG);
}
TEST_CASE("no huge page: mode never or madvise, a 2M range not inside the VMA, a page already there") {
    SUBCASE("never") {
        HostMm mm;
        mm.set_thp_mode(ThpMode::Never);
        REQUIRE_OK(mm.mmap(Hva(A), M2, RW, MappingKind::Anonymous, "ram"));
        REQUIRE(mm.get_user_page(Hva(A), true).pfn);
        CHECK(mm.get_user_mapping_size(Hva(A)) == PG);
    }
    SUBCASE("madvise without MADV_HUGEPAGE") {
        HostMm mm;
        mm.set_thp_mode(ThpMode::Madvise);
        REQUIRE_OK(mm.mmap(Hva(A), M2, RW, MappingKind::Anonymous, "ram"));
        REQUIRE(mm.get_user_page(Hva(A), true).pfn);
        CHECK(mm.get_user_mapping_size(Hva(A)) == PG);
    }
    SUBCASE("the VMA covers only part of the aligned 2M") {
        HostMm mm;
        mm.set_thp_mode(ThpMode::Always);
        REQUIRE_OK(mm.mmap(Hva(A + PG), M2, RW, MappingKind::Anonymous, "ram"));
        REQUIRE(mm.get_user_page(Hva(A + PG), true).pfn);
        CHECK(mm.get_user_mapping_size(Hva(A + PG)) == PG);
    }
    SUBCASE("a page of the range was faulted in while THP was off") {
        HostMm mm;
        REQUIRE_OK(mm.mmap(Hva(A), M2, RW, MappingKind::Anonymous, "ram"));
        REQUIRE(mm.get_user_page(Hva(A), true).pfn);
        mm.set_thp_mode(ThpMode::Always);
        REQUIRE(mm.get_user_page(Hva(A + PG), true).pfn);
        CHECK(mm.get_user_mapping_size(Hva(A + PG)) == PG);
    }
}

}  // TEST_SUITE
