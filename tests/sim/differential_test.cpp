// The differential-testing machinery without /dev/kvm: random scenarios are valid and
// reproducible, the shrinker keeps exactly what a failure needs, diff pairs outcomes, and the
// kvm backend's guest image and host relocation hold their invariants.
#include <doctest/doctest.h>

#include <sys/mman.h>

#include <cstring>
#include <map>
#include <set>

#include "model/kvm/caps.h"
#include "model/x86/x86_arch.h"
#include "sim/diff.h"
#include "sim/random_scenario.h"
#include "sim/scenario.h"

#if defined(__x86_64__) && __has_include(<linux/kvm.h>)
#include "sim/kvm/x86/guest_image.h"
#include "sim/kvm/host_layout.h"
#define KVMSIM_HAVE_KVM_PARTS 1
#endif

using namespace kvmsim;
using namespace kvmsim::sim;

TEST_SUITE("differential") {
    TEST_CASE("random scenarios parse, are reproducible, and differ by seed") {
        std::set<std::string> seen;
        for (std::uint64_t seed = 1; seed <= 300; ++seed) {
            const nlohmann::json doc = random_scenario(seed, {});
            CHECK_NOTHROW((void)parse_scenario(doc, "random"));
            CHECK(doc == random_scenario(seed, {}));
            seen.insert(doc.dump());
        }
        CHECK(seen.size() == 300);
    }

    TEST_CASE("random scenarios reach every kind of step the issue lists") {
        std::set<std::string> ops;
        bool readonly = false, logging = false, misaligned = false, delete_seen = false;
        for (std::uint64_t seed = 1; seed <= 100; ++seed) {
            const nlohmann::json doc = random_scenario(seed, {});
            for (const auto& st : doc["steps"]) {
                const std::string op = st.at("op").get<std::string>();
                ops.insert(op);
                if (op == "KVM_SET_USER_MEMORY_REGION") {
                    const std::string f = st["flags"].dump();
                    readonly |= f.find("KVM_MEM_READONLY") != std::string::npos;
                    logging |= f.find("KVM_MEM_LOG_DIRTY_PAGES") != std::string::npos;
                    misaligned |= parse_number(st["guest_phys_addr"], "") % 4096 != 0 || parse_number(st["memory_size"], "") % 4096 != 0;
                    delete_seen |= parse_number(st["memory_size"], "") == 0;
                }
            }
        }
        for (const char* op : {"KVM_SET_USER_MEMORY_REGION", "guest_read", "guest_write", "KVM_GET_DIRTY_LOG", "KVM_CLEAR_DIRTY_LOG", "host_write",
                               "host_read", "host_mprotect", "host_munmap", "KVM_CHECK_EXTENSION"})
            CHECK_MESSAGE(ops.contains(op), std::string(op));
        CHECK(readonly);
        CHECK(logging);
        CHECK(misaligned);
        CHECK(delete_seen);
    }

    TEST_CASE("random scenarios check every capability the model answers, on both fds") {
        std::set<std::pair<std::uint32_t, bool>> asked;
        for (std::uint64_t seed = 1; seed <= 5000; ++seed) {
            const nlohmann::json doc = random_scenario(seed, {});
            for (const auto& st : doc["steps"]) {
                if (st.at("op") != "KVM_CHECK_EXTENSION") continue;
                const auto& c = st.at("cap");
                const std::uint32_t n = c.is_string() ? static_cast<std::uint32_t>(*cap_from_string(c.get<std::string>())) : c.get<std::uint32_t>();
                asked.emplace(n, st.value("fd", "vm") == "system");
            }
        }
        unsigned modelled = 0;
        for (std::uint32_t n = 0; n <= kLastUapiCap + 4; ++n) {
            if (!x86_cap_modelled(static_cast<Cap>(n))) continue;
            ++modelled;
            CHECK_MESSAGE(asked.contains({n, false}), to_string(static_cast<Cap>(n)));
            CHECK_MESSAGE(asked.contains({n, true}), to_string(static_cast<Cap>(n)));
        }
        CHECK(asked.size() == 2 * modelled);  // and nothing the model does not answer
    }

    TEST_CASE("random scenarios write to private and shared mappings under every protection") {
        std::set<std::string> seen;  // "mapping prot": the protection the mapping had when written
        for (std::uint64_t seed = 1; seed <= 2000; ++seed) {
            const nlohmann::json doc = random_scenario(seed, {});
            std::map<std::string, std::string> prot = {{"ram", "rw"}, {"rom", "r"}, {"shm", "rw"}, {"shro", "r"}};
            for (const auto& st : doc["steps"]) {
                const std::string op = st.at("op");
                if (op != "host_write" && op != "host_mprotect") continue;
                const std::string hva = st.at("hva");
                const std::string name = hva.substr(0, hva.find('+'));
                if (op == "host_mprotect") prot[name] = st.at("prot");  // a guess: part of the mapping may keep the old one
                else seen.insert(name + " " + prot[name]);
            }
        }
        for (const char* name : {"ram", "shm", "shro"})
            for (const char* p : {"", "r", "rw", "rx", "rwx"}) CHECK_MESSAGE(seen.contains(std::string(name) + " " + p), name << " '" << p << "'");
        CHECK(seen.contains("rom r"));
    }

    TEST_CASE("the shrinker keeps exactly the steps a failure needs") {
        nlohmann::json doc = {{"steps", nlohmann::json::array()}};
        for (int i = 0; i < 40; ++i) doc["steps"].push_back({{"n", i}});
        auto needs = [](const nlohmann::json& d) {
            bool a = false, b = false;
            for (const auto& s : d["steps"]) a |= s["n"] == 7, b |= s["n"] == 31;
            return a && b;
        };
        const nlohmann::json small = shrink_scenario(doc, needs);
        REQUIRE(small["steps"].size() == 2);
        CHECK(small["steps"][0]["n"] == 7);
        CHECK(small["steps"][1]["n"] == 31);
    }

    TEST_CASE("diff: the model against itself agrees; against a reverted patch it names the step") {
        const nlohmann::json doc = {
            {"name", "t"}, {"description", "d"}, {"vm", {{"platform", "pvm"}}},
            {"host", {{"mmap", {{{"name", "ram"}, {"hva", "0x7e0000000000"}, {"size", "64K"}, {"prot", "rw"}}}}}},
            {"steps",
             {{{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", 0}, {"guest_phys_addr", 0}, {"memory_size", "16K"}, {"userspace_addr", "ram"}},
              {{"op", "KVM_SET_USER_MEMORY_REGION"}, {"slot", 0}, {"flags", {"KVM_MEM_READONLY"}}, {"guest_phys_addr", 0}, {"memory_size", "16K"},
               {"userspace_addr", "ram"}}}}};
        const Scenario s = parse_scenario(doc, "t");
        auto a = make_model_backend();
        auto b = make_model_backend();
        const DiffReport same = diff_scenario(s, *a, *b, "pvm");
        CHECK(same.compared == 2);
        CHECK(same.disagreements.empty());
        auto reverted = make_toggled_model_backend({}, {"readonly-toggle-einval"});
        const DiffReport d = diff_scenario(s, *a, *reverted, "pvm");
        REQUIRE(d.disagreements.size() == 1);
        CHECK(d.disagreements[0].step->index == 1);
        CHECK(d.disagreements[0].model == "EINVAL");
        CHECK(d.disagreements[0].kernel == 0);
    }

#ifdef KVMSIM_HAVE_KVM_PARTS
    TEST_CASE("guest image: routines end in hlt, gates point at the stubs, the identity map uses 2 MiB pages") {
        std::vector<std::uint8_t> mem(kvmhost::GuestImage::kSize);
        const Gpa base(0x40000000);
        kvmhost::GuestImage img(mem, base);
        const std::uint64_t r = img.identity_context(kvmhost::GuestOp::Write, 4).rip;
        CHECK(mem[r - base.value()] == 0x89);      // mov %esi,(%rdi)
        CHECK(mem[r - base.value() + 2] == 0xf4);  // hlt
        std::uint64_t gate[2];
        std::memcpy(gate, mem.data() + (img.identity_context(kvmhost::GuestOp::Read, 1).idt - base.value()) + 14 * 16, sizeof gate);
        const std::uint64_t handler = (gate[0] & 0xffff) | (((gate[0] >> 48) & 0xffff) << 16) | (gate[1] << 32);
        CHECK(((gate[0] >> 40) & 0xff) == 0x8e);
        CHECK(mem[handler - base.value()] == 0x6a);  // #PF pushes its own error code: push $14 comes first
        CHECK(mem[handler - base.value() + 1] == 14);
        REQUIRE(img.map_identity(Gpa(0x123456789000), 8));
        const auto entry = [&](std::uint64_t table, unsigned index) {
            std::uint64_t e;
            std::memcpy(&e, mem.data() + (table - base.value()) + index * 8, 8);
            return e;
        };
        const std::uint64_t a = 0x123456789000;
        const std::uint64_t pdpt = entry(img.cr3(), (a >> 39) & 511) & ~0xfffull;
        const std::uint64_t pd = entry(pdpt, (a >> 30) & 511) & ~0xfffull;
        CHECK(entry(pd, (a >> 21) & 511) == ((a & ~0x1fffffull) | 0x83));
    }

    TEST_CASE("host layout: one delta for every mapping, addresses outside the span untouched") {
        Scenario s;
        s.mmaps = {{"a", 0x7e1000000000, 0x4000, "rw", {}}, {"b", 0x7e1000010000, 0x2000, "r", {}}};
        kvmhost::HostLayout layout;
        REQUIRE_FALSE(layout.place(s));
        const std::uint64_t delta = static_cast<std::uint64_t>(layout.delta());
        CHECK(layout.to_real(0x7e1000000010) == 0x7e1000000010 + delta);
        CHECK(layout.to_real(0x7e1000011000) == 0x7e1000011000 + delta);
        CHECK(layout.to_scenario(layout.to_real(0x7e1000011000)) == 0x7e1000011000);
        CHECK(layout.to_real(0x1000) == 0x1000);
        CHECK(layout.in_span(0x7e1000004000, 0x1000));  // the gap between the mappings is in the span
        CHECK_FALSE(layout.in_span(0x7e1000012000, 1));
        std::uint32_t v = 0x11223344;
        CHECK(layout.access(0x7e1000010010, &v, 4, true) == 0);  // debugger write into PROT_READ
        v = 0;
        CHECK(layout.access(0x7e1000010010, &v, 4, false) == 0);
        CHECK(v == 0x11223344);
        CHECK(layout.access(0x7e1000004000, &v, 4, false) == EFAULT);  // the gap is unmapped
        CHECK(layout.mmap(0x7e1000000000, 0x1000, 3, {}) == EEXIST);
        CHECK(layout.munmap(0x7e1000000000, 0x1000) == 0);
        CHECK(layout.access(0x7e1000000000, &v, 4, false) == EFAULT);
    }
#endif
}
