// Property test: random KVM_SET_USER_MEMORY_REGION sequences against a naive reference that
// scans a plain vector and follows the mainline rules of reference §1.2 (and the generation
// rules of §1.3). Results, lookups, generations and invariants must agree after every step.
#include <algorithm>
#include <deque>
#include <random>
#include <set>

#include "support/kvm_test.h"

using namespace kvmsim;
using namespace kvmsim::test;

namespace {

constexpr std::uint32_t LOG = memflag::LogDirtyPages;
constexpr std::uint32_t RO = memflag::Readonly;
constexpr std::uint64_t USER_SLOTS = 32764;     // KVM_USER_MEM_SLOTS on x86
constexpr std::uint64_t MEM_SLOTS_NUM = 32767;  // SHRT_MAX
constexpr std::uint64_t MAX_NR_PAGES = (1ULL << 31) - 1;
constexpr std::uint64_t TASK_SIZE = 0x7ffffffff000ULL;
constexpr std::uint64_t UA = 0x7f0000000000ULL;

struct RefSlot {
    std::uint32_t as, id;
    std::uint64_t base, npages, uaddr;
    std::uint32_t flags;
};

// The reference: every rule written out in the kernel's order, every lookup a linear scan.
class RefVm {
public:
    RefVm(unsigned nr_as, std::uint64_t max_gfn) : nr_as_(nr_as), max_gfn_(max_gfn), gen_(nr_as) {
        for (unsigned a = 0; a < nr_as; ++a) gen_[a] = a;
    }

    KvmResult set(const kvm_userspace_memory_region& m) {
        const std::uint32_t as = m.slot >> 16, id = m.slot & 0xffff;
        if (id >= USER_SLOTS) return EINVAL_;                          // kvm_vm_ioctl_set_memory_region
        if (m.flags & ~(LOG | RO)) return EINVAL_;                     // v1 flags, check_memory_region_flags
        if (m.memory_size % PG) return EINVAL_;
        if (m.guest_phys_addr % PG) return EINVAL_;
        if (m.userspace_addr % PG) return EINVAL_;
        const std::uint64_t uend = m.userspace_addr + m.memory_size;  // access_ok
        if (uend < m.userspace_addr || uend > TASK_SIZE) return EINVAL_;
        if (as >= nr_as_ || id >= MEM_SLOTS_NUM) return EINVAL_;
        if (m.guest_phys_addr + m.memory_size < m.guest_phys_addr) return EINVAL_;  // end == 2^64 wraps to 0
        const std::uint64_t npages = m.memory_size / PG;
        if (npages > MAX_NR_PAGES) return EINVAL_;
        RefSlot* old = find(as, id);
        if (m.memory_size == 0) {
            if (!old) return EINVAL_;
            nr_pages_ -= old->npages;
            slots_.erase(slots_.begin() + (old - slots_.data()));
            gen_[as] += 2 * nr_as_;
            return OK;
        }
        const std::uint64_t base = m.guest_phys_addr / PG;
        enum { Create, Move, Flags } change = Create;
        if (old) {
            if (m.userspace_addr != old->uaddr || npages != old->npages || ((m.flags ^ old->flags) & RO)) return EINVAL_;
            if (base != old->base) change = Move;
            else if (m.flags != old->flags) change = Flags;
            else return OK;
        }
        if (change != Flags) {
            for (const RefSlot& s : slots_)
                if (s.as == as && s.id != id && base < s.base + s.npages && s.base < base + npages) return EEXIST_;
            if (base + npages - 1 > max_gfn_) {  // kvm_arch_prepare_memory_region
                if (change == Move) gen_[as] += 2 * nr_as_;
                return EINVAL_;
            }
        }
        if (change == Create) {
            slots_.push_back({as, id, base, npages, m.userspace_addr, m.flags});
            nr_pages_ += npages;
            gen_[as] += nr_as_;
        } else {
            old->base = base;
            old->flags = m.flags;
            gen_[as] += (change == Move ? 2 : 1) * nr_as_;
        }
        return OK;
    }

    RefSlot* find(std::uint32_t as, std::uint32_t id) {
        for (RefSlot& s : slots_)
            if (s.as == as && s.id == id) return &s;
        return nullptr;
    }
    const RefSlot* lookup(std::uint32_t as, std::uint64_t gfn) const {
        for (const RefSlot& s : slots_)
            if (s.as == as && gfn >= s.base && gfn - s.base < s.npages) return &s;
        return nullptr;
    }
    const std::vector<RefSlot>& slots() const { return slots_; }
    std::uint64_t generation(unsigned as) const { return gen_[as]; }
    std::uint64_t nr_pages() const { return nr_pages_; }

private:
    unsigned nr_as_;
    std::uint64_t max_gfn_;
    std::vector<std::uint64_t> gen_;
    std::vector<RefSlot> slots_;
    std::uint64_t nr_pages_ = 0;
};

// Random requests biased towards the interesting cases: a small gfn window so ranges collide,
// existing slots modified in every way, and a few misaligned, huge or out-of-range values.
class Gen {
public:
    Gen(std::uint64_t seed, unsigned nr_as, std::uint64_t max_gfn) : rng_(seed), nr_as_(nr_as), max_gfn_(max_gfn) {}

    kvm_userspace_memory_region next(const RefVm& ref) {
        kvm_userspace_memory_region m{};
        if (!ref.slots().empty() && pct(45)) {
            const RefSlot& s = ref.slots()[below(ref.slots().size())];
            m = {(s.as << 16) | s.id, s.flags, s.base * PG, s.npages * PG, s.uaddr};
            switch (below(9)) {
            case 0: break;                                                    // identical
            case 1: m.guest_phys_addr = gpa(); break;                         // move
            case 2: m.flags ^= LOG; break;                                    // flags only
            case 3: m.flags ^= RO; break;                                     // RO toggle
            case 4: m.guest_phys_addr = gpa(); m.flags ^= LOG; break;         // move + flags
            case 5: m.userspace_addr += PG; break;                            // uaddr change
            case 6: m.memory_size += PG * (1 + below(4)); break;              // size change
            case 7: m.memory_size = 0; break;                                 // delete
            case 8: m.memory_size = 0; m.guest_phys_addr = gpa(); m.flags = flags(); break;  // delete, other fields
            }
        } else {
            m.slot = slot();
            m.flags = flags();
            m.guest_phys_addr = gpa();
            m.memory_size = pct(12) ? 0 : (1 + below(pct(10) ? 200 : 24)) * PG;
            m.userspace_addr = UA + below(64) * PG;
        }
        if (pct(3)) m.guest_phys_addr += 1 + below(PG - 1);
        if (pct(3)) m.memory_size += 1 + below(PG - 1);
        if (pct(2)) m.userspace_addr += 1 + below(PG - 1);
        if (pct(2)) m.userspace_addr = pick({TASK_SIZE - PG, TASK_SIZE, 0x800000000000ULL, 0xffff800000000000ULL, 0});
        if (pct(2)) {  // huge or at the edges of the gpa space
            switch (below(5)) {
            case 0: m.memory_size = (MAX_NR_PAGES + below(2)) * PG; m.userspace_addr = 0x100000000ULL; break;
            case 1: m.guest_phys_addr = (max_gfn_ + 1 - below(3)) * PG; break;
            case 2: m.guest_phys_addr = 0xfffffffffffff000ULL - below(3) * PG; break;
            case 3: m.guest_phys_addr = (max_gfn_ - 8) * PG; m.memory_size = (1 + below(16)) * PG; break;
            case 4: m.memory_size = (1ULL << 20) * PG; m.userspace_addr = 0x100000000ULL; break;
            }
        }
        return m;
    }
    std::uint64_t gfn() { return pct(97) ? below(300) : pick({max_gfn_, max_gfn_ - 1, max_gfn_ + 1, ~std::uint64_t{0}}); }
    std::uint64_t below(std::uint64_t n) { return n ? rng_() % n : 0; }
    bool pct(unsigned p) { return below(100) < p; }

private:
    std::uint64_t pick(std::initializer_list<std::uint64_t> l) { return *(l.begin() + below(l.size())); }
    std::uint64_t gpa() { return below(256) * PG; }
    std::uint32_t flags() {
        const std::uint32_t fl[] = {0, 0, 0, LOG, LOG, RO, LOG | RO, 1u << 2, 1u << 3, 1u << 16, 1u << 31, RO | (1u << 5)};
        return fl[below(std::size(fl))];
    }
    std::uint32_t slot() {
        const std::uint32_t as = nr_as_ > 1 && pct(30) ? 1 : 0;
        if (pct(90)) return (as << 16) | static_cast<std::uint32_t>(below(24));
        switch (below(4)) {
        case 0: return static_cast<std::uint32_t>(pick({32763, 32764, 32767, 0xffff}));
        case 1: return (static_cast<std::uint32_t>(nr_as_ + below(3)) << 16) | static_cast<std::uint32_t>(below(24));
        case 2: return (as << 16) | static_cast<std::uint32_t>(32000 + below(800));
        default: return static_cast<std::uint32_t>(rng_());
        }
    }
    std::mt19937_64 rng_;
    unsigned nr_as_;
    std::uint64_t max_gfn_;
};

std::string slot_str(const kvm_memory_slot* s) {
    if (!s) return "hole";
    return "slot " + std::to_string(s->as_id) + ":" + std::to_string(s->id) + " [" + hex(s->base_gfn.value()) + ", +" +
           hex(s->npages) + ")";
}
std::string slot_str(const RefSlot* s) {
    if (!s) return "hole";
    return "slot " + std::to_string(s->as) + ":" + std::to_string(s->id) + " [" + hex(s->base) + ", +" + hex(s->npages) + ")";
}

// Model and reference agree on the whole table, and the table is sane.
void check_tables(kvm& k, const RefVm& ref, unsigned nr_as) {
    std::uint64_t total = 0;
    std::size_t count = 0;
    for (unsigned as = 0; as < nr_as; ++as) {
        const kvm_memslots& slots = k.memslots(static_cast<std::uint16_t>(as));
        CHECK(slots.generation() == ref.generation(as));
        std::uint64_t prev_end = 0;
        bool first = true;
        std::size_t n = 0;
        slots.for_each([&](const kvm_memory_slot& s) {
            ++n;
            total += s.npages;
            if (!first && s.base_gfn.value() < prev_end) FAIL("overlapping gfn ranges at " << slot_str(&s));
            first = false;
            prev_end = s.end_gfn().value();
            CHECK(s.as_id == as);
            CHECK(slots.id_to_memslot(s.id) == &s);
        });
        CHECK(n == slots.size());
        count += n;
    }
    CHECK(count == ref.slots().size());
    CHECK(count <= USER_SLOTS * nr_as);
    CHECK(total == k.nr_memslot_pages());
    CHECK(k.nr_memslot_pages() == ref.nr_pages());
    for (const RefSlot& r : ref.slots()) {
        const kvm_memory_slot* s = k.memslots(static_cast<std::uint16_t>(r.as)).id_to_memslot(static_cast<std::uint16_t>(r.id));
        INFO("reference " << slot_str(&r));
        REQUIRE(s != nullptr);
        CHECK(s->base_gfn.value() == r.base);
        CHECK(s->npages == r.npages);
        CHECK(s->flags == r.flags);
        CHECK(s->userspace_addr.value() == r.uaddr);
    }
}

void run_property(std::uint64_t seed, Platform platform, int ops) {
    Vm vm("mainline", platform);
    const unsigned nr_as = vm.k.nr_as_ids();
    const std::uint64_t max_gfn = dynamic_cast<const X86Arch&>(vm.k.arch()).mmu_max_gfn();
    // The reference's own limit, from the platform options (reference §1.2 step 23).
    REQUIRE(max_gfn == (platform_options(platform).tdp ? (1ULL << (platform_options(platform).host_maxphyaddr - 12)) - 1
                                                        : (1ULL << 40) - 1));
    RefVm ref(nr_as, max_gfn);
    Gen gen(seed, nr_as, max_gfn);
    std::deque<std::string> recent;
    std::size_t n_ok = 0, n_err = 0;
    for (int i = 0; i < ops; ++i) {
        const kvm_userspace_memory_region m = gen.next(ref);
        const KvmResult expected = ref.set(m);
        const KvmResult got = vm.k.set_user_memory_region(m);
        recent.push_back(std::to_string(i) + ": " + describe(m) + " -> " + doctest::toString(expected).c_str());
        if (recent.size() > 8) recent.pop_front();
        expected.is_ok() ? ++n_ok : ++n_err;
        std::string history;
        for (const auto& r : recent) history += "\n  " + r;
        INFO("seed " << seed << " platform " << to_string(platform) << ", last requests (reference result):" << history);
        REQUIRE(got == expected);
        for (int l = 0; l < 3; ++l) {
            const auto as = static_cast<std::uint32_t>(gen.below(nr_as));
            const std::uint64_t g = gen.gfn();
            const RefSlot* want = ref.lookup(as, g);
            const kvm_memory_slot* have = as == 0 ? vm.k.gfn_to_memslot(Gfn(g))
                                                  : vm.k.memslots(static_cast<std::uint16_t>(as)).search_memslots(Gfn(g));
            if (slot_str(have) != slot_str(want)) {
                INFO("lookup as " << as << " gfn " << hex(g));
                REQUIRE(slot_str(have) == slot_str(want));
            }
        }
        {   // the hva index against a scan
            const std::uint64_t qs = UA + gen.below(80) * PG, qe = qs + (1 + gen.below(8)) * PG;
            const auto as = static_cast<std::uint16_t>(gen.below(nr_as));
            std::set<std::uint32_t> want, have;
            for (const RefSlot& s : ref.slots())
                if (s.as == as && s.uaddr < qe && qs < s.uaddr + s.npages * PG) want.insert(s.id);
            vm.k.memslots(as).for_each_in_hva_range(Hva(qs), Hva(qe), [&](kvm_memory_slot& s) { have.insert(s.id); });
            if (have != want) {
                INFO("hva range [" << hex(qs) << ", " << hex(qe) << ") as " << as);
                REQUIRE(have == want);
            }
        }
        check_tables(vm.k, ref, nr_as);
    }
    // The generator must actually reach both outcomes often, or the test proves little.
    CHECK(n_ok > static_cast<std::size_t>(ops) / 10);
    CHECK(n_err > static_cast<std::size_t>(ops) / 10);
    MESSAGE("seed " << seed << " " << to_string(platform) << ": " << n_ok << " accepted, " << n_err << " refused, "
                    << ref.slots().size() << " slots at the end");
}

}  // namespace

TEST_SUITE("memslot_property") {

TEST_CASE("memslot property: 20000 random requests per seed agree with the reference (PVM: one address space, 2^40 gfns)") {
    for (std::uint64_t seed : {1ULL, 2ULL, 3ULL, 0xdeadbeefULL, 20240601ULL}) run_property(seed, Platform::Pvm, 20000);
}
TEST_CASE("memslot property: 20000 random requests per seed agree with the reference (VMX: SMM address space, TDP max gfn)") {
    for (std::uint64_t seed : {11ULL, 12ULL, 13ULL, 0xc0ffeeULL}) run_property(seed, Platform::Vmx, 20000);
}

}  // TEST_SUITE
