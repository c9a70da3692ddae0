// kvm_memslots: lookup by id, by gfn (search_memslots), overlap scan, and the hva interval tree
// (reference §2). The tree is checked against a linear scan over random slots.
#include <random>
#include <set>

#include "model/kvm/invariants.h"
#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {
std::unique_ptr<kvm_memory_slot> make_slot(std::uint16_t id, std::uint64_t base, std::uint64_t npages, std::uint64_t uaddr) {
    auto s = std::make_unique<kvm_memory_slot>();
    s->id = id;
    s->base_gfn = Gfn(base);
    s->npages = npages;
    s->userspace_addr = Hva(uaddr);
    return s;
}
std::set<std::uint16_t> hva_hits(const kvm_memslots& slots, std::uint64_t start, std::uint64_t end) {
    std::set<std::uint16_t> ids;
    slots.for_each_in_hva_range(Hva(start), Hva(end), [&](kvm_memory_slot& s) {
        CHECK(ids.insert(s.id).second);  // each slot at most once
    });
    return ids;
}
}  // namespace

TEST_SUITE("memslots") {

TEST_CASE("search_memslots: first and last gfn of a slot hit, one before and one past miss") {
    kvm_memslots slots(0);
    slots.insert(make_slot(1, 0x100, 16, 0x10000000));
    slots.insert(make_slot(2, 0x110, 1, 0x20000000));
    CHECK(slots.search_memslots(Gfn(0xff)) == nullptr);
    CHECK(slots.search_memslots(Gfn(0x100))->id == 1);
    CHECK(slots.search_memslots(Gfn(0x10f))->id == 1);
    CHECK(slots.search_memslots(Gfn(0x110))->id == 2);
    CHECK(slots.search_memslots(Gfn(0x111)) == nullptr);
    CHECK(slots.search_memslots(Gfn(~std::uint64_t{0})) == nullptr);
}
TEST_CASE("id_to_memslot: present, absent, after erase") {
    kvm_memslots slots(0);
    slots.insert(make_slot(7, 0, 1, 0));
    REQUIRE(slots.id_to_memslot(7) != nullptr);
    CHECK(slots.id_to_memslot(8) == nullptr);
    CHECK(slots.erase(7) != nullptr);
    CHECK(slots.id_to_memslot(7) == nullptr);
    CHECK(slots.search_memslots(Gfn(0)) == nullptr);
    CHECK(slots.erase(7) == nullptr);
    CHECK(slots.size() == 0);
}
TEST_CASE("find_overlap: adjacent ranges do not intersect; the skipped id never conflicts") {
    kvm_memslots slots(0);
    slots.insert(make_slot(1, 0x100, 16, 0));
    slots.insert(make_slot(2, 0x200, 16, 0));
    CHECK(slots.find_overlap(Gfn(0xf0), Gfn(0x100), std::nullopt) == nullptr);
    CHECK(slots.find_overlap(Gfn(0x110), Gfn(0x200), std::nullopt) == nullptr);
    CHECK(slots.find_overlap(Gfn(0x10f), Gfn(0x110), std::nullopt)->id == 1);
    CHECK(slots.find_overlap(Gfn(0x0), Gfn(0x1000), std::nullopt) != nullptr);
    CHECK(slots.find_overlap(Gfn(0x104), Gfn(0x114), std::optional<std::uint16_t>(1)) == nullptr);
    CHECK(slots.find_overlap(Gfn(0x104), Gfn(0x204), std::optional<std::uint16_t>(1))->id == 2);
    CHECK(slots.find_overlap(Gfn(0x1f0), Gfn(0x201), std::optional<std::uint16_t>(1))->id == 2);
}
TEST_CASE("move: the slot is found at its new base only; the hva index is unchanged") {
    kvm_memslots slots(0);
    slots.insert(make_slot(1, 0x100, 16, 0x10000000));
    slots.move(*slots.id_to_memslot(1), Gfn(0x108));
    CHECK(slots.search_memslots(Gfn(0x100)) == nullptr);
    CHECK(slots.search_memslots(Gfn(0x117))->id == 1);
    CHECK(hva_hits(slots, 0x10000000, 0x10000001) == std::set<std::uint16_t>{1});
}
TEST_CASE("hva tree: aliasing slots are all found; empty and touching ranges are not") {
    kvm_memslots slots(0);
    slots.insert(make_slot(1, 0x000, 16, 0x10000000));
    slots.insert(make_slot(2, 0x100, 16, 0x10000000));  // same hva
    slots.insert(make_slot(3, 0x200, 4, 0x10008000));   // inside both
    slots.insert(make_slot(4, 0x300, 4, 0x10010000));   // right after both
    CHECK(hva_hits(slots, 0x10008000, 0x10008001) == std::set<std::uint16_t>{1, 2, 3});
    CHECK(hva_hits(slots, 0x10000000, 0x10000000).empty());
    CHECK(hva_hits(slots, 0x0fff0000, 0x10000000).empty());
    CHECK(hva_hits(slots, 0x1000f000, 0x10010000) == std::set<std::uint16_t>{1, 2});
    CHECK(hva_hits(slots, 0x1000ffff, 0x10010001) == std::set<std::uint16_t>{1, 2, 4});
    slots.erase(2);
    CHECK(hva_hits(slots, 0x10008000, 0x10008001) == std::set<std::uint16_t>{1, 3});
}
TEST_CASE("hva tree: random slots, inserts and erases agree with a linear scan") {
    for (unsigned seed : {1u, 7u, 99u}) {
        CAPTURE(seed);
        std::mt19937_64 rng(seed);
        kvm_memslots slots(0);
        std::map<std::uint16_t, std::pair<std::uint64_t, std::uint64_t>> ref;  // id -> [start, end)
        std::uint64_t next_base = 0;
        for (int step = 0; step < 4000; ++step) {
            const auto id = static_cast<std::uint16_t>(rng() % 300);
            if (ref.contains(id)) {
                slots.erase(id);
                ref.erase(id);
            } else {
                const std::uint64_t npages = 1 + rng() % 64;
                const std::uint64_t uaddr = 0x10000000 + (rng() % 512) * PG;
                slots.insert(make_slot(id, next_base, npages, uaddr));
                next_base += npages;
                ref[id] = {uaddr, uaddr + npages * PG};
            }
            const std::uint64_t qs = 0x10000000 + (rng() % (600 * PG));
            const std::uint64_t qe = qs + rng() % (32 * PG);
            std::set<std::uint16_t> expect;
            for (const auto& [sid, r] : ref)
                if (r.first < qe && qs < r.second) expect.insert(sid);
            const std::set<std::uint16_t> got = hva_hits(slots, qs, qe);
            if (got != expect) {
                INFO("step " << step << " query [" << hex(qs) << ", " << hex(qe) << ")");
                REQUIRE(got == expect);
            }
        }
    }
}
TEST_CASE("search_memslots at scale: 32764 one-page slots, every gfn found, gaps between them missed") {
    kvm_memslots slots(0);
    for (std::uint16_t i = 0; i < 32764; ++i) slots.insert(make_slot(i, std::uint64_t{i} * 2, 1, 0x10000000));
    for (std::uint64_t g = 0; g < 2 * 32764; ++g) {
        const kvm_memory_slot* s = slots.search_memslots(Gfn(g));
        if (g % 2 == 0) {
            if (!s || s->id != g / 2) {
                INFO("gfn " << hex(g));
                REQUIRE((s && s->id == g / 2));
            }
        } else if (s) {
            INFO("gfn " << hex(g) << " is a gap");
            REQUIRE(s == nullptr);
        }
    }
    CHECK(hva_hits(slots, 0x10000000, 0x10000001).size() == 32764);
}
TEST_CASE("gfn_to_memslot: the VM-wide last_used_slot cache is cleared by a delete") {
    Vm vm;
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0x100000, 16 * PG, 0x7f0000000000ULL);
    REQUIRE(vm.k.gfn_to_memslot(Gfn(0x100)) != nullptr);
    CHECK(vm.k.memslots(0).last_used_slot != nullptr);
    REQUIRE_SET_REGION_OK(vm, 0, 0, 0, 0, 0);
    CHECK(vm.k.gfn_to_memslot(Gfn(0x100)) == nullptr);
}

TEST_CASE("invariants hold after every op of a random create/move/flags/delete sequence, with lookups between") {
    Vm vm;
    constexpr std::uint64_t UA = 0x7f0000000000ULL;
    vm.map(UA, 256 * PG);
    REQUIRE_OK(vm.k.create_vcpu(0));
    InvariantChecker checker;
    std::mt19937_64 rng(12);
    for (int i = 0; i < 3000; ++i) {
        const auto slot = static_cast<std::uint32_t>(rng() % 8);
        const std::uint32_t flags = (rng() % 3 == 0) ? memflag::LogDirtyPages : 0;
        const std::uint64_t gpa = (rng() % 64) * PG, size = (rng() % 5) * PG;
        (void)vm.set(slot, flags, gpa, size, UA + (rng() % 128) * PG);
        (void)vm.k.gfn_to_memslot(Gfn(rng() % 80));
        (void)vm.k.vcpu_gfn_to_memslot(*vm.k.vcpu(0), Gfn(rng() % 80));
        if (auto* s = vm.k.gfn_to_memslot(Gfn(rng() % 80))) vm.k.mark_page_dirty_in_slot(s, s->base_gfn);
        const auto bad = checker.check(vm.k);
        INFO("op " << i);
        REQUIRE_FALSE(bad.has_value());
    }
}

}  // TEST_SUITE
