// Holes in the VMM's memory and userfaultfd: madvise(MADV_DONTNEED) (mm/madvise.c),
// fallocate(PUNCH_HOLE) on a memfd (fs/open.c, mm/shmem.c), UFFDIO_REGISTER in MISSING mode
// (fs/userfaultfd.c). The x86 scenarios in scenarios/holes-and-uffd/ show the same on /dev/kvm.
#include <array>
#include <cstring>

#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
constexpr Prot RW{.read = true, .write = true};
constexpr std::uint64_t A = 0x10000000;

std::uint64_t read64(HostMm& mm, std::uint64_t hva) {
    std::array<std::uint8_t, 8> b{};
    REQUIRE(mm.access_remote(Hva(hva), b, false) == OK);
    std::uint64_t v = 0;
    std::memcpy(&v, b.data(), 8);
    return v;
}
void write64(HostMm& mm, std::uint64_t hva, std::uint64_t v) {
    std::array<std::uint8_t, 8> b{};
    std::memcpy(b.data(), &v, 8);
    REQUIRE(mm.access_remote(Hva(hva), b, true) == OK);
}
}  // namespace

TEST_SUITE("holes_uffd") {

TEST_CASE("MADV_DONTNEED: a private page is freed (zeros, a new pfn); a shared page keeps its content and pfn") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 4 * PG, RW, MappingKind::Anonymous, "priv"));
    REQUIRE_OK(mm.mmap(Hva(A + 8 * PG), 4 * PG, RW, MappingKind::Shared, "shm"));
    write64(mm, A, 7);
    write64(mm, A + 8 * PG, 9);
    const Pfn priv = *mm.get_user_page(Hva(A), false).pfn;
    const Pfn shm = *mm.get_user_page(Hva(A + 8 * PG), false).pfn;
    HvaRange z;
    REQUIRE_OK(mm.madvise_dontneed(Hva(A), PG, z));
    CHECK(z.start == Hva(A));
    CHECK(z.end == Hva(A + PG));
    CHECK(read64(mm, A) == 0);
    CHECK(*mm.get_user_page(Hva(A), false).pfn != priv);
    REQUIRE_OK(mm.madvise_dontneed(Hva(A + 8 * PG), 4 * PG, z));
    CHECK(read64(mm, A + 8 * PG) == 9);
    CHECK(*mm.get_user_page(Hva(A + 8 * PG), false).pfn == shm);
}
TEST_CASE("MADV_DONTNEED: unaligned start EINVAL, length 0 a no-op, a hole ENOMEM after the mapped part is dropped") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 2 * PG, RW, MappingKind::Anonymous, "a"));
    REQUIRE_OK(mm.mmap(Hva(A + 3 * PG), PG, RW, MappingKind::Anonymous, "b"));
    write64(mm, A + 3 * PG, 5);
    HvaRange z;
    CHECK(mm.madvise_dontneed(Hva(A + 8), PG, z) == EINVAL_);
    CHECK(mm.madvise_dontneed(Hva(A), 0, z) == OK);
    CHECK(z.empty());
    CHECK(mm.madvise_dontneed(Hva(A), 4 * PG, z) == KvmResult::error(Errno::Enomem));
    CHECK(read64(mm, A + 3 * PG) == 0);
    CHECK(mm.madvise_dontneed(Hva(A + 16 * PG), PG, z) == KvmResult::error(Errno::Enomem));
    REQUIRE_OK(mm.mmap(Hva(A + 32 * PG), PG, RW, MappingKind::PfnMap, "dev"));
    CHECK(mm.madvise_dontneed(Hva(A + 32 * PG), PG, z) == EINVAL_);
}
TEST_CASE("fallocate: PUNCH_HOLE needs KEEP_SIZE; whole pages go, partial pages are zeroed in place") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 4 * PG, RW, MappingKind::Shared, "fd", Backing::Memfd));
    write64(mm, A + PG, 1);
    write64(mm, A + 2 * PG, 2);
    write64(mm, A + 2 * PG + 8, 3);
    const Pfn partial = *mm.get_user_page(Hva(A + 2 * PG), false).pfn;
    HvaRange z;
    CHECK(mm.fallocate("fd", {.punch_hole = true}, PG, PG, z) == KvmResult::error(Errno::Eopnotsupp));
    CHECK(mm.fallocate("fd", {.keep_size = true, .punch_hole = true}, 0, 0, z) == EINVAL_);
    CHECK(mm.fallocate("fd", {.keep_size = true, .punch_hole = true}, ~std::uint64_t{0}, PG, z) == EINVAL_);
    CHECK(mm.fallocate("fd", {.keep_size = true, .punch_hole = true}, 0x7fffffffffff0000ULL, 0x10000, z) == KvmResult::error(Errno::Efbig));
    REQUIRE_OK(mm.fallocate("fd", {.keep_size = true, .punch_hole = true}, PG, PG + 8, z));
    CHECK(z.start == Hva(A + PG));
    CHECK(z.end == Hva(A + 2 * PG));
    CHECK(read64(mm, A + PG) == 0);
    CHECK(read64(mm, A + 2 * PG) == 0);
    CHECK(read64(mm, A + 2 * PG + 8) == 3);
    CHECK(*mm.get_user_page(Hva(A + 2 * PG), false).pfn == partial);
}
TEST_CASE("fallocate: offsets are the file's, whatever part of the mapping is left") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 4 * PG, RW, MappingKind::Shared, "fd", Backing::Memfd));
    write64(mm, A + 3 * PG, 4);
    REQUIRE_OK(mm.munmap(Hva(A), PG));
    HvaRange z;
    REQUIRE_OK(mm.fallocate("fd", {.keep_size = true, .punch_hole = true}, 3 * PG, PG, z));
    CHECK(read64(mm, A + 3 * PG) == 0);
    REQUIRE_OK(mm.munmap(Hva(A), 4 * PG));
    CHECK(mm.fallocate("fd", {.keep_size = true, .punch_hole = true}, 0, PG, z) == OK);  // the fd outlives the mapping
}
TEST_CASE("uffd MISSING: one fault per first touch, with the handler's content; DONTNEED of a private page re-arms it") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 4 * PG, RW, MappingKind::Anonymous, "a"));
    REQUIRE_OK(mm.uffd_register(Hva(A), 4 * PG, {UffdServe::How::Copy, 0xabcdef}));
    CHECK(*mm.uffd_faults(Hva(A)) == 0);
    CHECK(mm.get_user_page(Hva(A), false).pfn.has_value());
    CHECK(*mm.uffd_faults(Hva(A)) == 1);
    std::array<std::uint8_t, 8> b{};
    CHECK(mm.copy_from_user(Hva(A + 16), b));
    CHECK(b[0] == 0xef);
    CHECK(*mm.uffd_faults(Hva(A)) == 1);
    CHECK(mm.copy_from_user(Hva(A + PG), b));
    CHECK(*mm.uffd_faults(Hva(A)) == 2);
    // /proc/PID/mem may not retry the fault: refused before any message.
    CHECK(mm.access_remote(Hva(A + 2 * PG), b, false) == KvmResult::error(Errno::Efault));
    CHECK(*mm.uffd_faults(Hva(A)) == 2);
    HvaRange z;
    REQUIRE_OK(mm.madvise_dontneed(Hva(A), PG, z));
    CHECK(mm.get_user_page(Hva(A), true).pfn.has_value());
    CHECK(*mm.uffd_faults(Hva(A)) == 3);
    CHECK(!mm.uffd_faults(Hva(A + PG)).has_value());
}
TEST_CASE("uffd register: EINVAL for unaligned or empty ranges, unmapped ranges and VM_PFNMAP; EBUSY over another context") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 4 * PG, RW, MappingKind::Anonymous, "a"));
    REQUIRE_OK(mm.mmap(Hva(A + 8 * PG), PG, RW, MappingKind::PfnMap, "dev"));
    const UffdServe zero{UffdServe::How::ZeroPage, 0};
    CHECK(mm.uffd_register(Hva(A + 1), PG, zero) == EINVAL_);
    CHECK(mm.uffd_register(Hva(A), PG + 1, zero) == EINVAL_);
    CHECK(mm.uffd_register(Hva(A), 0, zero) == EINVAL_);
    CHECK(mm.uffd_register(Hva(A + 16 * PG), PG, zero) == EINVAL_);
    CHECK(mm.uffd_register(Hva(A + 8 * PG), PG, zero) == EINVAL_);
    REQUIRE_OK(mm.uffd_register(Hva(A + PG), PG, zero));
    CHECK(mm.uffd_register(Hva(A), 2 * PG, zero) == KvmResult::error(Errno::Ebusy));
    CHECK(mm.get_user_page(Hva(A), false).pfn.has_value());  // outside the registered page
    CHECK(*mm.uffd_faults(Hva(A + PG)) == 0);
}

TEST_CASE("uffd snapshot + whole range: one fault brings back the range as registered, up to the first present page") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 4 * PG, RW, MappingKind::Anonymous, "a"));
    write64(mm, A, 1);
    write64(mm, A + PG, 2);
    UffdServe serve{UffdServe::How::Copy, 0};
    serve.snapshot = true;
    serve.whole_range = true;
    REQUIRE_OK(mm.uffd_register(Hva(A), 4 * PG, serve));
    write64(mm, A, 9);  // after the snapshot
    HvaRange z;
    REQUIRE_OK(mm.madvise_dontneed(Hva(A), 4 * PG, z));
    std::array<std::uint8_t, 8> b{};
    CHECK(mm.copy_from_user(Hva(A + 3 * PG), b));  // faults at the last page: all four come back
    CHECK(*mm.uffd_faults(Hva(A)) == 1);
    CHECK(read64(mm, A) == 1);
    CHECK(read64(mm, A + PG) == 2);
    CHECK(read64(mm, A + 2 * PG) == 0);
    REQUIRE_OK(mm.madvise_dontneed(Hva(A), PG, z));
    REQUIRE_OK(mm.madvise_dontneed(Hva(A + 2 * PG), PG, z));
    // The fault at page 2 copies from the range's start: page 0 (missing) is filled, page 1
    // (present) stops the copy, and page 2 is then copied on its own.
    CHECK(mm.get_user_page(Hva(A + 2 * PG), false).pfn.has_value());
    CHECK(*mm.uffd_faults(Hva(A)) == 2);
    CHECK(read64(mm, A) == 1);
    CHECK(*mm.uffd_faults(Hva(A)) == 2);
}
TEST_CASE("a page read before the registration is present: no MISSING fault for it") {
    HostMm mm;
    REQUIRE_OK(mm.mmap(Hva(A), 2 * PG, RW, MappingKind::Anonymous, "a"));
    std::array<std::uint8_t, 8> b{};
    CHECK(mm.copy_from_user(Hva(A), b));
    REQUIRE_OK(mm.uffd_register(Hva(A), 2 * PG, {UffdServe::How::Copy, 7}));
    CHECK(read64(mm, A) == 0);
    CHECK(*mm.uffd_faults(Hva(A)) == 0);
}

}  // TEST_SUITE
