// Hardware Access-flag updates (TCR_EL1.HA, FEAT_HAFDBS) in the stage-1 walker: a clear AF is
// set by a write of the descriptor (the S1PTW write KVM sees), or is an Access flag fault without HA.
#include <doctest/doctest.h>

#include <map>

#include "model/arm64/stage1.h"
#include "model/arm64/stage1_builder.h"

using namespace kvmsim;

namespace {

struct Memory {
    std::map<std::uint64_t, std::uint64_t> words;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> writes;  // the walker's, in order
    Arm64S1Memory builder() {
        return {[this](Gpa a, std::uint64_t& v) { v = words[a.value()]; return true; }, [this](Gpa a, std::uint64_t v) { words[a.value()] = v; return true; }};
    }
    Arm64DescReader reader() {
        return [this](Gpa a) -> std::optional<std::uint64_t> { return words[a.value()]; };
    }
    Arm64DescWriter writer(bool completes = true) {
        return [this, completes](Gpa a, std::uint64_t v) {
            if (!completes) return false;
            writes.emplace_back(a.value(), v);
            words[a.value()] = v;
            return true;
        };
    }
};

Memory tables_without_af() {
    Memory m;
    Arm64S1BuildSpec s;
    s.root = Gpa(0x50000000);
    s.pool = Gpa(0x50001000);
    s.pool_size = 0x10000;
    Arm64S1Mapping map;
    map.gva = Gva(0x10000);
    map.gpa = Gpa(0x40000000);
    map.block = 0x1000;
    map.size = 0x1000;
    map.af = false;
    s.maps.push_back(map);
    REQUIRE_FALSE(build_stage1_tables(s, m.builder()).error);
    return m;
}

Arm64Stage1Regs regs(bool ha) {
    Arm64Stage1Regs r;
    r.mmu_on = true;
    r.ttbr0 = Gpa(0x50000000);
    r.ha = ha;
    return r;
}

}  // namespace

TEST_SUITE("arm64") {

TEST_CASE("without TCR_EL1.HA a clear AF is an Access flag fault at the leaf's level, and nothing is written") {
    Memory m = tables_without_af();
    const Arm64WalkResult w = arm64_stage1_walk(regs(false), Gva(0x10000), Arm64AccessKind::Read, m.reader(), m.writer());
    CHECK(w.fault == Stage1Fault::AccessFlag);
    CHECK(w.fsc() == 0x0b);
    CHECK(m.writes.empty());
}

TEST_CASE("with TCR_EL1.HA the walker writes the leaf back with the AF set, once, and the walk completes") {
    Memory m = tables_without_af();
    const Arm64WalkResult w = arm64_stage1_walk(regs(true), Gva(0x10008), Arm64AccessKind::Write, m.reader(), m.writer());
    CHECK(w.fault == Stage1Fault::None);
    CHECK(w.ipa == Gpa(0x40000008));
    CHECK(w.af_updated);
    REQUIRE(w.leaf_at);
    REQUIRE(m.writes.size() == 1);
    CHECK(m.writes[0].first == w.leaf_at->value());
    CHECK((m.writes[0].second & a64::DESC_AF) != 0);
    CHECK((m.writes[0].second & ~a64::DESC_AF) == (m.words[w.leaf_at->value()] & ~a64::DESC_AF));
    // Now set: a second walk only reads.
    const Arm64WalkResult again = arm64_stage1_walk(regs(true), Gva(0x10000), Arm64AccessKind::Read, m.reader(), m.writer());
    CHECK(again.fault == Stage1Fault::None);
    CHECK_FALSE(again.af_updated);
    CHECK(m.writes.size() == 1);
}

TEST_CASE("a walker write that stage 2 does not complete ends the walk as a stage-2 abort (KVM's to handle)") {
    Memory m = tables_without_af();
    const Arm64WalkResult w = arm64_stage1_walk(regs(true), Gva(0x10000), Arm64AccessKind::Read, m.reader(), m.writer(false));
    CHECK(w.fault == Stage1Fault::Stage2);
    CHECK(w.level == 3);
}

TEST_CASE("a walk without a writer (the VMM translating for itself) takes the AF as set and writes nothing") {
    Memory m = tables_without_af();
    const Arm64WalkResult w = arm64_stage1_walk(regs(true), Gva(0x10000), Arm64AccessKind::Fetch, m.reader());
    CHECK(w.fault == Stage1Fault::None);
    CHECK_FALSE(w.af_updated);
    CHECK((m.words[w.leaf_at->value()] & a64::DESC_AF) == 0);
}

}  // TEST_SUITE
