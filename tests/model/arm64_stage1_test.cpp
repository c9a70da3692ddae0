// The arm64 stage-1 walker and table builder, on a plain map of guest memory: levels per granule
// and VA size, block output addresses, the fault kinds and levels, and a descriptor read that
// stage 2 did not complete. Expectations from the Arm ARM (D8.2 translation table walks, D8.3
// descriptor formats, D8.4 permissions), not from the model.
#include <doctest/doctest.h>

#include <map>

#include "model/arm64/stage1.h"
#include "model/arm64/stage1_builder.h"

using namespace kvmsim;

namespace {

struct Memory {
    std::map<std::uint64_t, std::uint64_t> words;  // by 8-byte aligned IPA
    std::uint64_t hole = ~std::uint64_t{0};        // descriptor reads at and above fail (stage 2)
    unsigned reads = 0;

    Arm64S1Memory builder() {
        return {[this](Gpa a, std::uint64_t& v) { v = words[a.value()]; return true; }, [this](Gpa a, std::uint64_t v) { words[a.value()] = v; return true; }};
    }
    Arm64DescReader reader() {
        return [this](Gpa a) -> std::optional<std::uint64_t> {
            ++reads;
            if (a.value() >= hole) return std::nullopt;
            return words[a.value()];
        };
    }
};

Arm64WalkResult walk(Memory& m, const Arm64S1BuildSpec& s, std::uint64_t va, Arm64AccessKind k = Arm64AccessKind::Read) {
    return arm64_stage1_walk({true, s.root, s.granule_shift, s.va_bits}, Gva(va), k, m.reader());
}

Arm64S1BuildSpec spec(unsigned granule_shift, unsigned va_bits, std::vector<Arm64S1Mapping> maps) {
    Arm64S1BuildSpec s;
    s.granule_shift = granule_shift;
    s.va_bits = va_bits;
    s.root = Gpa(0x100000);
    s.pool = Gpa(0x200000);
    s.pool_size = 0x100000;
    s.maps = std::move(maps);
    return s;
}

}  // namespace

TEST_SUITE("arm64") {
TEST_CASE("stage 1: the start level follows the granule and T0SZ") {
    CHECK(arm64_granule(12, 48)->start_level == 0);
    CHECK(arm64_granule(12, 39)->start_level == 1);
    CHECK(arm64_granule(14, 47)->start_level == 1);
    CHECK(arm64_granule(14, 48)->start_level == 0);
    CHECK(arm64_granule(16, 48)->start_level == 1);
    CHECK(arm64_granule(16, 42)->start_level == 2);
    CHECK_FALSE(arm64_granule(13, 48));
    CHECK_FALSE(arm64_granule(12, 49));
}

TEST_CASE("stage 1, 4K: a page walk reads one descriptor per level and keeps the page offset") {
    Memory m;
    const auto s = spec(12, 48, {{Gva(0x10000), Gpa(0x40002000), 0x1000, 0x1000}});
    REQUIRE_FALSE(build_stage1_tables(s, m.builder()).error);
    const Arm64WalkResult r = walk(m, s, 0x10abc);
    CHECK(r.fault == Stage1Fault::None);
    CHECK(r.level == 3);
    CHECK(r.ipa.value() == 0x40002abc);
    CHECK(m.reads == 4);
}

TEST_CASE("stage 1, 4K: 2M and 1G blocks pass the VA's low bits through") {
    Memory m;
    const auto s = spec(12, 48, {{Gva(0x200000), Gpa(0x40000000), 0x200000, 0x200000}, {Gva(0x80000000), Gpa(0xc0000000), 0x40000000, 0x40000000}});
    REQUIRE_FALSE(build_stage1_tables(s, m.builder()).error);
    CHECK(walk(m, s, 0x3fff08).ipa.value() == 0x401fff08);
    CHECK(walk(m, s, 0x3fff08).level == 2);
    CHECK(walk(m, s, 0x80123456).ipa.value() == 0xc0123456);
    CHECK(walk(m, s, 0x80123456).level == 1);
}

TEST_CASE("stage 1: faults are named by kind and level") {
    Memory m;
    auto s = spec(12, 48,
                  {{Gva(0x10000), Gpa(0x1000), 0x1000, 0x1000, a64::DESC_AP_RO},
                   {Gva(0x11000), Gpa(0x2000), 0x1000, 0x1000, 0, false},
                   {Gva(0x12000), Gpa(0x3000), 0x1000, 0x1000, 0, true, false},
                   {Gva(0x13000), Gpa(0x4000), 0x1000, 0x1000, a64::DESC_AP_USER}});
    REQUIRE_FALSE(build_stage1_tables(s, m.builder()).error);
    CHECK(walk(m, s, 0x10000).fault == Stage1Fault::None);
    const auto ro = walk(m, s, 0x10000, Arm64AccessKind::Write);
    CHECK(ro.fault == Stage1Fault::Permission);
    CHECK(ro.fsc() == 0x0f);
    CHECK(walk(m, s, 0x11000).fsc() == 0x0b);  // access flag, level 3
    CHECK(walk(m, s, 0x12000).fsc() == 0x07);  // invalid page descriptor
    CHECK(walk(m, s, 0x13000, Arm64AccessKind::Fetch).fault == Stage1Fault::Permission);  // EL0-writable: PXN implied
    CHECK(walk(m, s, 0x13000, Arm64AccessKind::Write).fault == Stage1Fault::None);
    CHECK(walk(m, s, 0x400000).fsc() == 0x06);
    CHECK(walk(m, s, 0x40000000).fsc() == 0x05);
    CHECK(walk(m, s, 0x8000000000).fsc() == 0x04);
    CHECK(walk(m, s, std::uint64_t{1} << 48).fsc() == 0x04);  // outside TTBR0's range, nothing read
}

TEST_CASE("stage 1: APTable and PXNTable restrict everything below") {
    Memory m;
    auto s = spec(12, 48, {{Gva(0x10000), Gpa(0x1000), 0x1000, 0x1000}});
    s.table_bits = a64::TABLE_AP_RO | a64::TABLE_PXN;
    REQUIRE_FALSE(build_stage1_tables(s, m.builder()).error);
    CHECK(walk(m, s, 0x10000).fault == Stage1Fault::None);
    CHECK(walk(m, s, 0x10000, Arm64AccessKind::Write).fsc() == 0x0f);
    CHECK(walk(m, s, 0x10000, Arm64AccessKind::Fetch).fsc() == 0x0f);
}

TEST_CASE("stage 1, 16K and 64K granules") {
    Memory m16;
    const auto s16 = spec(14, 47, {{Gva(0x4000), Gpa(0x48000), 0x4000, 0x4000}, {Gva(0x2000000), Gpa(0x4000000), 0x2000000, 0x2000000}});
    REQUIRE_FALSE(build_stage1_tables(s16, m16.builder()).error);
    CHECK(walk(m16, s16, 0x7ffc).ipa.value() == 0x4bffc);
    CHECK(m16.reads == 3);  // levels 1, 2, 3
    CHECK(walk(m16, s16, 0x2345678).ipa.value() == 0x4345678);
    Memory m64;
    const auto s64 = spec(16, 42, {{Gva(0x30000), Gpa(0x50000), 0x10000, 0x10000}});
    REQUIRE_FALSE(build_stage1_tables(s64, m64.builder()).error);
    CHECK(walk(m64, s64, 0x3fff0).ipa.value() == 0x5fff0);
    CHECK(m64.reads == 2);  // levels 2, 3
    CHECK(walk(m64, s64, 0x20000000).fsc() == 0x06);
}

TEST_CASE("stage 1: a descriptor read stage 2 does not complete stops the walk at its level") {
    Memory m;
    const auto s = spec(12, 48, {{Gva(0x10000), Gpa(0x1000), 0x1000, 0x1000}});
    REQUIRE_FALSE(build_stage1_tables(s, m.builder()).error);
    m.hole = 0x200000;  // the pool: levels 1 to 3
    const Arm64WalkResult r = walk(m, s, 0x10000);
    CHECK(r.fault == Stage1Fault::Stage2);
    CHECK(r.level == 1);
}

TEST_CASE("stage 1 builder: bad layouts are refused in words") {
    Memory m;
    CHECK(build_stage1_tables(spec(12, 48, {{Gva(0x10000), Gpa(0x1000), 0x1000, 0x200000}}), m.builder()).error);  // misaligned block
    CHECK(build_stage1_tables(spec(14, 47, {{Gva(0x0), Gpa(0x0), 0x200000, 0x200000}}), m.builder()).error);      // no 2M block with 16K
    auto small = spec(12, 48, {{Gva(0x10000), Gpa(0x1000), 0x1000, 0x1000}});
    small.pool_size = 0x1000;  // three tables needed below the root
    CHECK(build_stage1_tables(small, m.builder()).error);
}
}
