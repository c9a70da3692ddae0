#include "arm64_stage1_steps.h"

#include "model/arm64/arm64_arch.h"
#include "model/kvm/translate.h"
#include "scenario.h"

namespace kvmsim::sim {
namespace {

unsigned granule_shift(const StepFields& f) {
    const std::string g = f.string_or("granule", "4K");
    if (g == "4K") return 12;
    if (g == "16K") return 14;
    if (g == "64K") return 16;
    throw ScenarioError(f.path("granule"), "expected \"4K\", \"16K\" or \"64K\", got \"" + g + "\"");
}

unsigned va_bits(const StepFields& f) {
    const unsigned bits = f.u32_or("va_bits", 48);
    if (bits < 25 || bits > 48) throw ScenarioError(f.path("va_bits"), "expected 25 to 48 (TCR_EL1.T0SZ 16 to 39), got " + std::to_string(bits));
    return bits;
}

struct FlagBits {
    std::uint64_t bits = 0;
    bool af = true;
    bool valid = true;
};

FlagBits parse_flags(const nlohmann::json& list, const std::string& path, bool table) {
    const char* names = table ? "RO, PXN" : "RO, USER, PXN, UXN, XN, no-AF, invalid";
    if (!list.is_array()) throw ScenarioError(path, std::string("expected a list of flag names (") + names + ")");
    FlagBits f;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string p = path + "/" + std::to_string(i);
        if (!list[i].is_string()) throw ScenarioError(p, "expected a flag name");
        const std::string n = list[i].get<std::string>();
        if (table && n == "RO") f.bits |= a64::TABLE_AP_RO;
        else if (table && n == "PXN") f.bits |= a64::TABLE_PXN;
        else if (table) throw ScenarioError(p, "unknown table flag \"" + n + "\" (" + names + ")");
        else if (n == "RO") f.bits |= a64::DESC_AP_RO;
        else if (n == "USER") f.bits |= a64::DESC_AP_USER;
        else if (n == "PXN") f.bits |= a64::DESC_PXN;
        else if (n == "UXN") f.bits |= a64::DESC_UXN;
        else if (n == "XN") f.bits |= a64::DESC_PXN | a64::DESC_UXN;
        else if (n == "no-AF") f.af = false;
        else if (n == "invalid") f.valid = false;
        else throw ScenarioError(p, "unknown flag \"" + n + "\" (" + names + ")");
    }
    return f;
}

}  // namespace

Arm64S1BuildSpec parse_stage1_spec(const Step& step, const StepFields& f) {
    Arm64S1BuildSpec s;
    s.granule_shift = granule_shift(f);
    s.va_bits = va_bits(f);
    s.root = Gpa(f.u64("root"));
    s.pool = Gpa(f.u64("pool"));
    s.pool_size = f.u64("pool_size");
    if (f.has("table_flags")) s.table_bits = parse_flags(step.fields.at("table_flags"), f.path("table_flags"), true).bits;
    const auto& maps = step.fields.at("map");
    const std::string mp = f.path("map");
    if (!maps.is_array() || maps.empty()) throw ScenarioError(mp, "expected a non-empty list of mappings {gva, gpa, size, block, flags}");
    if (maps.size() > 256) throw ScenarioError(mp, "at most 256 mappings per step");
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const std::string p = mp + "/" + std::to_string(i);
        const auto& o = maps[i];
        if (!o.is_object()) throw ScenarioError(p, "expected a mapping object");
        for (const auto& [k, v] : o.items())
            if (k != "gva" && k != "gpa" && k != "size" && k != "block" && k != "flags" && k != "extra")
                throw ScenarioError(p + "/" + k, "unknown key \"" + k + "\" (expected one of: block, extra, flags, gpa, gva, size)");
        for (const char* k : {"gva", "gpa"})
            if (!o.contains(k)) throw ScenarioError(p, std::string("missing required key \"") + k + "\"");
        Arm64S1Mapping m;
        m.gva = Gva(parse_number(o.at("gva"), p + "/gva"));
        m.gpa = Gpa(parse_number(o.at("gpa"), p + "/gpa"));
        m.block = o.contains("block") ? parse_number(o.at("block"), p + "/block") : std::uint64_t{1} << s.granule_shift;
        m.size = o.contains("size") ? parse_number(o.at("size"), p + "/size") : m.block;
        if (o.contains("flags")) {
            const FlagBits fb = parse_flags(o.at("flags"), p + "/flags", false);
            m.leaf_bits = fb.bits;
            m.af = fb.af;
            m.valid = fb.valid;
        }
        // Raw descriptor bits besides the named ones (AttrIndx, nG, software bits); never the
        // output address.
        if (o.contains("extra")) m.leaf_bits |= parse_number(o.at("extra"), p + "/extra") & ~a64::OA_MASK;
        s.maps.push_back(m);
    }
    return s;
}

Arm64Stage1Regs parse_stage1_regs(const StepFields& f) {
    Arm64Stage1Regs r;
    r.mmu_on = true;
    r.ttbr0 = Gpa(f.u64("ttbr0"));
    r.granule_shift = granule_shift(f);
    r.va_bits = va_bits(f);
    r.ha = f.boolean_or("ha", false);
    if (r.ttbr0.value() & ~a64::OA_MASK) throw ScenarioError(f.path("ttbr0"), "a table address of at most 48 bits, 4K-aligned");
    return r;
}

void check_arm64_stage1_step(const Step& step, const StepFields& f) {
    if (step.op == "build_stage1_tables") {
        const Arm64S1BuildSpec s = parse_stage1_spec(step, f);
        std::uint64_t blocks = 0;
        for (const Arm64S1Mapping& m : s.maps)
            if (m.block) blocks += m.size / m.block;
        if (blocks > (1u << 18)) throw ScenarioError(f.path("map"), "more than 262144 blocks in one step");
    }
    if (step.op == "set_stage1_regs") (void)parse_stage1_regs(f);
}

nlohmann::json Arm64Stage1Steps::build(kvm& k, const Step& step, const StepFields& f) {
    const Arm64S1BuildSpec spec = parse_stage1_spec(step, f);
    // The VMM writes through its own mapping of guest memory, read-only slots included.
    auto hva_of = [&](Gpa gpa) -> std::optional<Hva> {
        const HvaLookup h = gfn_to_hva_memslot_prot(k, k.gfn_to_memslot(gpa_to_gfn(gpa)), gpa_to_gfn(gpa));
        if (!h.ok()) return std::nullopt;
        return h.hva + offset_in_page(gpa.value());
    };
    Arm64S1Memory mem;
    mem.read = [&](Gpa gpa, std::uint64_t& v) {
        const auto h = hva_of(gpa);
        v = 0;
        return h && k.mm().access_remote(*h, std::span(reinterpret_cast<std::uint8_t*>(&v), 8), false).is_ok();
    };
    mem.write = [&](Gpa gpa, std::uint64_t v) {
        const auto h = hva_of(gpa);
        return h && k.mm().access_remote(*h, std::span(reinterpret_cast<std::uint8_t*>(&v), 8), true).is_ok();
    };
    std::uint64_t& used = pool_used_[spec.pool.value()];
    const bool tracing = k.trace().enabled();
    k.trace().enable(false);  // the VMM's writes are not kernel decisions
    const Arm64S1BuildResult r = build_stage1_tables(spec, mem, used);
    k.trace().enable(tracing);
    if (r.error) throw ScenarioError(step.path, "build_stage1_tables: " + *r.error);
    used = r.pool_used;
    k.trace().emit("build_stage1_tables", [&] { return std::to_string(r.entries) + " descriptors written through the VMM's mapping"; });
    return 0;
}

nlohmann::json Arm64Stage1Steps::set_regs(kvm& k, Arm64Arch& arch, const Step& step, const StepFields& f) {
    const std::uint32_t id = f.u32("vcpu");
    if (!k.vcpu(id)) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(id) + " (create it with KVM_CREATE_VCPU first)");
    // kvm_arch_vcpu_ioctl(), arch/arm64/kvm/arm.c: KVM_SET_ONE_REG before KVM_ARM_VCPU_INIT is -ENOEXEC.
    if (!arch.vcpu_arch(id).initialized) {
        k.trace().emit("kvm_arch_vcpu_ioctl", [] { return std::string("KVM_SET_ONE_REG on a vCPU not initialised -> -ENOEXEC"); });
        return "ENOEXEC";
    }
    const Arm64Stage1Regs r = parse_stage1_regs(f);
    regs_[id] = r;
    k.trace().emit("kvm_arm_set_reg", [&] {
        return "TTBR0_EL1 " + hex(r.ttbr0.value()) + ", TCR_EL1.T0SZ " + std::to_string(64 - r.va_bits) + " TG0 " + std::to_string(1u << r.granule_shift >> 10) +
               "K" + (r.ha ? std::string(" HA 1") + (arch.host().hafdbs ? "" : " (RES0: the CPU has no FEAT_HAFDBS)") : std::string()) + ", SCTLR_EL1.M 1: the MMU is on";
    });
    return 0;
}

std::optional<std::uint64_t> Arm64Stage1Steps::read_desc(kvm& k, Gpa gpa) {
    const bool tracing = k.trace().enabled();
    k.trace().enable(false);  // the VMM's read, not a kernel decision
    const HvaLookup h = gfn_to_hva_memslot_prot(k, k.gfn_to_memslot(gpa_to_gfn(gpa)), gpa_to_gfn(gpa));
    std::uint64_t v = 0;
    const bool ok = h.ok() && k.mm().access_remote(h.hva + offset_in_page(gpa.value()), std::span(reinterpret_cast<std::uint8_t*>(&v), 8), false).is_ok();
    k.trace().enable(tracing);
    if (!ok) return std::nullopt;
    return v;
}

Arm64Stage1Regs Arm64Stage1Steps::regs(std::uint32_t id) const {
    const auto it = regs_.find(id);
    return it == regs_.end() ? Arm64Stage1Regs{} : it->second;
}

}  // namespace kvmsim::sim
