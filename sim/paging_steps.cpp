#include "paging_steps.h"

#include <cstring>

#include "model/kvm/translate.h"

namespace kvmsim::sim {
namespace {

// CR4 bits KVM_SET_SREGS accepts with a typical host CPUID (kvm_is_valid_cr4(): everything
// else is reserved); VMXE needs nested VMX and is left out.
constexpr std::uint64_t kKnownCr4 = 0x1fff & ~(std::uint64_t{1} << 13);
constexpr std::uint64_t kKnownCr4High = (1u << 16) | x86::CR4_PCIDE | (1u << 18) | x86::CR4_SMEP | x86::CR4_SMAP | (1u << 22);

std::uint64_t parse_leaf_bits(const nlohmann::json& list, const std::string& path, bool& present) {
    if (!list.is_array()) throw ScenarioError(path, "expected a list such as [\"W\", \"U\", \"NX\", \"A\", \"D\", \"not-present\"]");
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string p = path + "/" + std::to_string(i);
        if (!list[i].is_string()) throw ScenarioError(p, "expected a flag name");
        const std::string n = list[i].get<std::string>();
        if (n == "W") bits |= x86::PTE_W;
        else if (n == "U") bits |= x86::PTE_U;
        else if (n == "NX") bits |= x86::PTE_NX;
        else if (n == "A") bits |= x86::PTE_A;
        else if (n == "D") bits |= x86::PTE_D;
        else if (n == "not-present") present = false;
        else throw ScenarioError(p, "unknown flag \"" + n + "\" (W, U, NX, A, D, not-present)");
    }
    return bits;
}

}  // namespace

PtBuildSpec parse_page_table_spec(const Step& step, const StepFields& f) {
    PtBuildSpec s;
    const std::string mode = f.string("mode");
    const auto m = paging_mode_from_string(mode);
    if (!m || *m == PagingMode::None) throw ScenarioError(f.path("mode"), "expected \"32-bit\", \"pae\", \"4-level\" or \"5-level\", got \"" + mode + "\"");
    s.mode = *m;
    s.root = Gpa(f.u64("root"));
    s.pool = Gpa(f.u64("pool"));
    s.pool_size = f.u64("pool_size");
    if (f.has("table_flags")) {
        bool present = true;
        s.table_bits = parse_leaf_bits(step.fields.at("table_flags"), f.path("table_flags"), present) & (x86::PTE_W | x86::PTE_U | x86::PTE_A | x86::PTE_NX);
    }
    const auto& maps = step.fields.at("map");
    const std::string mp = f.path("map");
    if (!maps.is_array() || maps.empty()) throw ScenarioError(mp, "expected a non-empty list of mappings {gva, gpa, size, page, flags}");
    if (maps.size() > 256) throw ScenarioError(mp, "at most 256 mappings per step");
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const std::string p = mp + "/" + std::to_string(i);
        const auto& o = maps[i];
        if (!o.is_object()) throw ScenarioError(p, "expected a mapping object");
        for (const auto& [k, v] : o.items())
            if (k != "gva" && k != "gpa" && k != "size" && k != "page" && k != "flags" && k != "extra")
                throw ScenarioError(p + "/" + k, "unknown key \"" + k + "\" (expected one of: extra, flags, gpa, gva, page, size)");
        for (const char* k : {"gva", "gpa"})
            if (!o.contains(k)) throw ScenarioError(p, std::string("missing required key \"") + k + "\"");
        PtMapping pm;
        pm.gva = Gva(parse_number(o.at("gva"), p + "/gva"));
        pm.gpa = Gpa(parse_number(o.at("gpa"), p + "/gpa"));
        pm.page_size = o.contains("page") ? parse_number(o.at("page"), p + "/page") : PAGE_SIZE;
        pm.size = o.contains("size") ? parse_number(o.at("size"), p + "/size") : pm.page_size;
        if (o.contains("flags")) pm.leaf_bits = parse_leaf_bits(o.at("flags"), p + "/flags", pm.present);
        if (o.contains("extra")) pm.leaf_bits |= parse_number(o.at("extra"), p + "/extra");
        if (paging_mode_info(s.mode).pte_size == 4) pm.leaf_bits &= 0xffffffffu & ~x86::PTE_NX;
        s.maps.push_back(pm);
    }
    return s;
}

void check_paging_step(const Step& step, const StepFields& f) {
    const bool access = step.op == "guest_read" || step.op == "guest_write" || step.op == "guest_fetch";
    if (access && f.has("gpa") == f.has("gva")) throw ScenarioError(step.path, "a guest access needs exactly one of \"gpa\" and \"gva\"");
    if (access && f.has("cpl") && f.u32("cpl") != 0 && f.u32("cpl") != 3) throw ScenarioError(f.path("cpl"), "expected 0 (supervisor) or 3 (user)");
    if (step.op == "build_page_tables") (void)parse_page_table_spec(step, f);
}

nlohmann::json PagingSteps::set_sregs(kvm& k, Platform platform, const Step& step, const StepFields& f) {
    const std::uint32_t id = f.u32("vcpu");
    kvm_vcpu* vcpu = k.vcpu(id);
    if (!vcpu) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(id) + " (create it with KVM_CREATE_VCPU first)");
    X86PagingState s = state_[id];
    s.cr0 = f.u64_or("cr0", s.cr0);
    s.cr3 = f.u64_or("cr3", s.cr3);
    s.cr4 = f.u64_or("cr4", s.cr4);
    s.efer = f.u64_or("efer", s.efer);
    if (f.has("idt_base")) s.idt_base = Gva(f.u64("idt_base"));
    // models kvm_is_valid_sregs() with kvm_is_valid_cr0() / kvm_is_valid_cr4(), arch/x86/kvm/x86.c
    auto refuse = [&](const std::string& why) {
        k.trace().emit("kvm_is_valid_sregs", [&] { return why + " -> EINVAL"; });
        return nlohmann::json("EINVAL");
    };
    if (s.cr0 >> 32) return refuse("CR0 bits 32-63 are reserved");
    if ((s.cr0 & x86::CR0_NW) && !(s.cr0 & x86::CR0_CD)) return refuse("CR0.NW without CR0.CD");
    if ((s.cr0 & x86::CR0_PG) && !(s.cr0 & x86::CR0_PE)) return refuse("CR0.PG without CR0.PE");
    if ((s.efer & x86::EFER_LME) && (s.cr0 & x86::CR0_PG)) {
        if (!(s.cr4 & x86::CR4_PAE)) return refuse("long mode (EFER.LME with CR0.PG) without CR4.PAE");
        if (!(s.efer & x86::EFER_LMA)) return refuse("EFER.LME with CR0.PG but EFER.LMA clear");
    } else if (s.efer & x86::EFER_LMA) {
        return refuse("EFER.LMA without EFER.LME and CR0.PG");
    }
    std::uint64_t cr4_ok = kKnownCr4 | kKnownCr4High;
    // __cr4_reserved_bits(), arch/x86/kvm/x86.h: LA57 is reserved unless the guest's CPUID has it,
    // and KVM offers it only where the host CPU has it (the QEMU machine: la57=off). Probed on the
    // PVM hosts: their CPUID makes KVM refuse LA57 and PCIDE.
    const bool la57 = platform != Platform::Pvm && host_of(k).guest_la57.value_or(true);
    if (!la57) cr4_ok &= ~x86::CR4_LA57;
    if (platform == Platform::Pvm) cr4_ok &= ~x86::CR4_PCIDE;
    if (s.cr4 & ~cr4_ok) return refuse("CR4 " + hex(s.cr4 & ~cr4_ok) + " reserved for this guest's CPUID");
    if (paging_mode(s) == PagingMode::Pae) {
        // models load_pdptrs(), arch/x86/kvm/x86.c: the four PDPTEs are read from guest memory
        // when CR3 is loaded; an unreadable or reserved-bit PDPT leaves the old registers.
        std::array<std::uint64_t, 4> pdpte{};
        const Gpa base((s.cr3 & 0xffffffe0u));
        const KvmResult r = kvm_vcpu_read_guest(k, *vcpu, base, std::span(reinterpret_cast<std::uint8_t*>(pdpte.data()), sizeof pdpte));
        const GuestCpuid c = guest_cpuid(platform, host_of(k));
        const std::uint64_t rsvd = (~std::uint64_t{0} << c.maxphyaddr) | 0x1e6;  // bits maxphyaddr..63, 5..8, 1..2
        bool valid = r.is_ok();
        for (std::uint64_t e : pdpte)
            if ((e & x86::PTE_P) && (e & rsvd)) valid = false;
        if (valid) s.pdptrs = pdpte;
        k.trace().emit("load_pdptrs", [&] {
            return "PAE: read the 4 PDPTEs at gpa " + hex(base.value()) + (valid ? ": " + hex(pdpte[0]) + " " + hex(pdpte[1]) + " " + hex(pdpte[2]) + " " + hex(pdpte[3])
                                                                               : ": unreadable or reserved bits set, registers unchanged");
        });
    }
    state_[id] = s;
    k.trace().emit("kvm_arch_vcpu_ioctl_set_sregs", [&] {
        return "CR0 " + hex(s.cr0) + " CR3 " + hex(s.cr3) + " CR4 " + hex(s.cr4) + " EFER " + hex(s.efer) + ": " +
               std::string(paging_mode_info(paging_mode(s)).name) + " paging";
    });
    return 0;
}

nlohmann::json PagingSteps::build_page_tables(kvm& k, const Step& step, const StepFields& f) {
    const PtBuildSpec spec = parse_page_table_spec(step, f);
    // The VMM writes through its own mapping of guest memory (address space 0).
    auto hva_of = [&](Gpa gpa) -> std::optional<Hva> {
        const HvaLookup h = gfn_to_hva_memslot_prot(k, k.gfn_to_memslot(gpa_to_gfn(gpa)), gpa_to_gfn(gpa));
        if (!h.ok()) return std::nullopt;
        return h.hva + offset_in_page(gpa.value());
    };
    PtMemory mem;
    mem.read = [&](Gpa gpa, std::uint64_t& v, unsigned size) {
        const auto h = hva_of(gpa);
        v = 0;
        return h && k.mm().access_remote(*h, std::span(reinterpret_cast<std::uint8_t*>(&v), size), false).is_ok();
    };
    mem.write = [&](Gpa gpa, std::uint64_t v, unsigned size) {
        const auto h = hva_of(gpa);
        return h && k.mm().access_remote(*h, std::span(reinterpret_cast<std::uint8_t*>(&v), size), true).is_ok();
    };
    std::uint64_t& used = pool_used_[spec.pool.value()];
    // The VMM's own writes are not kernel decisions: keep their translations out of the trace.
    const bool tracing = k.trace().enabled();
    k.trace().enable(false);
    const PtBuildResult r = kvmsim::build_page_tables(spec, mem, used);
    k.trace().enable(tracing);
    if (r.error) throw ScenarioError(step.path, "build_page_tables: " + *r.error);
    used = r.pool_used;
    for (const PtWrite& w : r.writes)
        k.trace().emit("build_page_tables", [&] {
            return std::string(level_name(spec.mode, w.level)) + " at gpa " + hex(w.gpa.value()) + " = " + hex(w.value);
        });
    return 0;
}

GvaAccessResult PagingSteps::access(kvm& k, Platform platform, kvm_vcpu& vcpu, const StepFields& f, GvaAccessType type) {
    GvaAccess a;
    a.type = type;
    a.gva = Gva(f.has("gva") ? f.u64("gva") : f.u64("gpa"));
    a.size = f.has("size") ? f.access_size("size") : 1;
    a.cpl = f.u32_or("cpl", 0);
    if (type == GvaAccessType::Write) a.data = f.data("data", a.size);
    const std::uint64_t reply = f.has("mmio_reply") ? f.data("mmio_reply", a.size) : 0;
    std::memcpy(a.mmio_reply.data(), &reply, sizeof reply);
    X86PagingState s = state_[vcpu.vcpu_id];
    // A gpa access (a fetch by gpa) bypasses translation.
    if (f.has("gpa")) s.cr0 &= ~x86::CR0_PG;
    if ((paging_mode(s) == PagingMode::Bits32 || paging_mode(s) == PagingMode::Pae) && (a.gva.value() >> 32))
        throw ScenarioError(f.path(f.has("gva") ? "gva" : "gpa"), "outside long mode a virtual address has 32 bits");
    return x86_guest_access_gva(k, vcpu, platform, s, a);
}

}  // namespace kvmsim::sim
