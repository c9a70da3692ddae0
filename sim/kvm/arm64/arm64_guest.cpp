// The kvm backend's arm64 guest: vCPUs through KVM_ARM_VCPU_INIT, and guest accesses by IPA
// made by the backend's own code at EL1 with the MMU off (guest_code.h), reported in the
// words of the model's arm64 steps (sim/arm64_steps.cpp).
#include <linux/kvm.h>

#include <map>
#include <memory>

#include "../../arm64_device_step.h"
#include "../../arm64_insn.h"
#include "../../arm64_stage1_steps.h"
#include "../../outcome.h"
#include "../../runner.h"
#include "../arch_guest.h"
#include "../guest_memory.h"
#include "guest_code.h"
#include "model/arm64/stage1.h"
#include "model/arm64/stage1_builder.h"
#include "vcpu.h"

namespace kvmsim::sim::kvmhost {

const char* const kHostArch = "arm64";

namespace {

using arm64::AccessKind;

static_assert(static_cast<std::uint32_t>(KvmDeviceType::ArmVgicV3) == KVM_DEV_TYPE_ARM_VGIC_V3);
static_assert(static_cast<std::uint32_t>(KvmDeviceType::ArmVgicIts) == KVM_DEV_TYPE_ARM_VGIC_ITS);

constexpr unsigned kDefaultIpaBits = 40;  // KVM_VM_TYPE_ARM_IPA_SIZE 0: the kernel's default
constexpr std::uint64_t kIdAa64Mmfr0El1 = ARM64_SYS_REG(3, 0, 0, 7, 0);
constexpr std::uint64_t kIdAa64Isar0El1 = ARM64_SYS_REG(3, 0, 0, 6, 0);
constexpr std::uint64_t kDczidEl0 = ARM64_SYS_REG(3, 3, 0, 0, 7);

// ID_AA64MMFR0_EL1.PARange as bits.
unsigned parange_bits(std::uint64_t mmfr0) {
    static constexpr unsigned bits[] = {32, 36, 40, 42, 44, 48, 52};
    const unsigned field = mmfr0 & 0xf;
    return field < 7 ? bits[field] : 52;
}

class Arm64Guest final : public ArchGuest {
public:
    explicit Arm64Guest(VmContext& ctx) : ctx_(ctx) {}

    std::optional<nlohmann::json> dispatch(const Step& step, const StepFields& f) override {
        const std::string& op = step.op;
        if (op == "KVM_CREATE_VCPU") return create_vcpu(f);
        if (op == "KVM_ARM_VCPU_INIT") return errno_json(vcpu(step, f).init(ctx_.vm));
        if (op == "guest_read" || op == "guest_write" || op == "guest_fetch" || op == "guest_dc" || op == "guest_cas" || op == "guest_at") return guest_access(step, f);
        if (op == "build_stage1_tables") return build_stage1_tables(step, f);
        if (op == "set_stage1_regs") {
            const Arm64Stage1Regs r = parse_stage1_regs(f);
            return errno_json(vcpu(step, f).set_stage1({r.ttbr0.value(), r.granule_shift, r.va_bits, r.ha}));
        }
        if (op == "KVM_CREATE_DEVICE") return create_device(f);
        if (op == "KVM_CREATE_VM") {
            const long fd = raw_ioctl(ctx_.kvm, KVM_CREATE_VM, f.u64("type"));
            if (fd < 0) return errno_json(fd);
            const Fd other(static_cast<int>(fd));  // not the scenario's VM: closed at once
            return 0;
        }
        return std::nullopt;
    }

    // KVM_RUN for the VMM's loop (vmm_guest_read/write): a load or store with a valid syndrome.
    std::optional<vmm::KvmRun> vmm_vcpu_run(std::uint32_t id) override {
        const auto it = vcpus_.find(id);
        if (it == vcpus_.end()) return std::nullopt;
        arm64::Vcpu* v = it->second.get();
        return [this, v](const vmm::VcpuAccess& a, const vmm::MmioExitFn& on_mmio) {
            arm64::AccessRequest req;
            req.kind = a.is_write ? AccessKind::Write : AccessKind::Read;
            req.size = a.size;
            req.data = a.data;
            req.address = a.gpa.value();
            req.isv = a.isv;
            prepare(req);
            const MmioAnswer answer = on_mmio;
            const arm64::AccessOutcome out = v->access(place(), req, ctx_.layout, &answer);
            const bool ends_on_mmio = !out.result.events.empty() && out.result.events.back().kind == VcpuEvent::Kind::Exit &&
                                      out.result.events.back().exit == Exit::Mmio;
            if (out.other_exit && (out.result.events.empty() || ends_on_mmio)) throw Skip{"KVM_RUN for the VMM: " + *out.other_exit};
            return out.result;
        };
    }

private:
    // KVM_CREATE_DEVICE on the scenario's VM; the device fd stays open with the VM (closing it
    // would not remove the device anyway: kvm_device_release() only drops the VM reference).
    nlohmann::json create_device(const StepFields& f) {
        const CreateDeviceArgs a = parse_create_device(f);
        kvm_create_device cd{};
        cd.type = static_cast<std::uint32_t>(a.type);
        cd.flags = a.test ? KVM_CREATE_DEVICE_TEST : 0;
        const long r = raw_ioctl(ctx_.vm, KVM_CREATE_DEVICE, &cd);
        if (r < 0) return errno_json(r);
        if (!a.test) devices_.emplace_back(static_cast<int>(cd.fd));
        return 0;
    }

    nlohmann::json create_vcpu(const StepFields& f) {
        const std::uint32_t id = f.u32("id");
        const long r = raw_ioctl(ctx_.vm, KVM_CREATE_VCPU, static_cast<unsigned long>(id));
        if (r < 0) return errno_json(r);
        auto v = std::make_unique<arm64::Vcpu>(Fd(static_cast<int>(r)), ctx_.run_size);
        if (auto err = v->map_run()) throw Skip{*err};
        vcpus_[id] = std::move(v);
        return 0;
    }

    arm64::Vcpu& vcpu(const Step& step, const StepFields& f) {
        const std::uint32_t id = f.u32("vcpu");
        const auto it = vcpus_.find(id);
        if (it == vcpus_.end()) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(id) + " (create it with KVM_CREATE_VCPU first)");
        return *it->second;
    }

    arm64::CodePlace place() {
        const GuestRegion r = ctx_.region();
        if (!code_written_) {
            arm64::GuestCode(std::span(r.mem, arm64::GuestCode::kSize));
            ttbr1_ = arm64::GuestCode::build_high_tables(std::span(r.mem, kGuestRegionSlotSize), r.gpa, kGuestRegionSlotSize);
            code_written_ = true;
        }
        return {r.gpa, r.gpa + kGuestRegionSlotSize, ttbr1_};
    }

    // The scenario's tables, written through the VMM's mapping of its slots (model/arm64/stage1_builder).
    nlohmann::json build_stage1_tables(const Step& step, const StepFields& f) {
        const Arm64S1BuildSpec spec = parse_stage1_spec(step, f);
        Arm64S1Memory mem;
        mem.read = [&](Gpa gpa, std::uint64_t& v) { return guest_phys_rw(ctx_.slots, ctx_.layout, gpa.value(), &v, 8, false); };
        mem.write = [&](Gpa gpa, std::uint64_t v) { return guest_phys_rw(ctx_.slots, ctx_.layout, gpa.value(), &v, 8, true); };
        std::uint64_t& used = pool_used_[spec.pool.value()];
        const Arm64S1BuildResult r = kvmsim::build_stage1_tables(spec, mem, used);
        if (r.error) throw ScenarioError(step.path, "build_stage1_tables: " + *r.error);
        used = r.pool_used;
        ctx_.trace.emit("build_stage1_tables", [&] { return std::to_string(r.entries) + " descriptors written through the VMM's mapping"; });
        return 0;
    }

    // Where the scenario's tables send a VA, read as the VMM sees guest memory: where a fetch's
    // `ret` goes. nullopt when the walk would fault or reach no slot.
    std::optional<std::uint64_t> host_translate(const arm64::Stage1Setup& s, std::uint64_t va, Arm64AccessKind kind) {
        const Arm64WalkResult w = host_walk(s, va, kind);
        if (w.fault != Stage1Fault::None) return std::nullopt;
        return w.ipa.value();
    }

    // The walk as the VMM can make it (no descriptor is written: with HA a clear AF is taken as set).
    Arm64WalkResult host_walk(const arm64::Stage1Setup& s, std::uint64_t va, Arm64AccessKind kind) {
        Arm64Stage1Regs regs{true, Gpa(s.ttbr0), s.granule_shift, s.va_bits};
        regs.ha = s.ha;
        return arm64_stage1_walk(regs, Gva(va), kind, [&](Gpa at) -> std::optional<std::uint64_t> {
            std::uint64_t v = 0;
            if (!guest_phys_rw(ctx_.slots, ctx_.layout, at.value(), &v, 8, false)) return std::nullopt;
            return v;
        });
    }

    // The leaf descriptor's AF after an access, read through the VMM's mapping (page_fault_test's
    // check_pte_af()); nullopt where the tables lead to no leaf or the read is refused.
    std::optional<bool> leaf_af(const arm64::Stage1Setup& s, std::uint64_t va, Arm64AccessKind kind) {
        const Arm64WalkResult w = host_walk(s, va, kind);
        if (!w.leaf_at) return std::nullopt;
        std::uint64_t desc = 0;
        if (!guest_phys_rw(ctx_.slots, ctx_.layout, w.leaf_at->value(), &desc, 8, false)) return std::nullopt;
        return (desc & a64::DESC_AF) != 0;
    }

    // The guest's PA size with the MMU off (an address past it faults at stage 1, in the
    // guest), read from the vCPU: KVM's sanitised ID_AA64MMFR0_EL1.
    unsigned guest_parange(arm64::Vcpu& v) {
        if (!parange_) {
            const auto mmfr0 = v.get_reg(kIdAa64Mmfr0El1);
            if (!mmfr0) return 64;  // unreadable: let KVM_RUN decide
            parange_ = parange_bits(*mmfr0);
        }
        return *parange_;
    }

    // What an access needs before its KVM_RUN; throws Skip where it cannot be reproduced.
    void prepare(const arm64::AccessRequest& req) {
        // With the MMU on the scenario's mappings are Normal memory: unaligned data accesses are fine.
        if (req.stage1) {
            if (req.kind == AccessKind::Fetch && req.address % 4 != 0) throw Skip{"a fetch from an address not 4-byte aligned is a PC alignment fault"};
            if (auto why = unsafe_slots(ctx_.slots, ctx_.layout, std::nullopt, req.size)) throw Skip{*why};
            return;
        }
        if (req.kind != AccessKind::Fetch && req.address % req.size != 0)
            throw Skip{"with the MMU off every data access is to Device memory, where an unaligned access faults at stage 1"};
        if (req.kind == AccessKind::Fetch && req.address % 4 != 0) throw Skip{"a fetch from an address not 4-byte aligned is a PC alignment fault"};
        if (auto why = unsafe_slots(ctx_.slots, ctx_.layout, req.address, req.size)) throw Skip{*why};
    }

    nlohmann::json guest_access(const Step& step, const StepFields& f) {
        arm64::Vcpu& v = vcpu(step, f);
        arm64::AccessRequest req;
        const DataInsn insn = data_insn(step, f);
        req.kind = step.op == "guest_write" ? AccessKind::Write : step.op == "guest_fetch" ? AccessKind::Fetch
                   : insn == DataInsn::DcCivac ? AccessKind::CacheMaintenance : insn == DataInsn::DcZva ? AccessKind::ZeroBlock
                   : insn == DataInsn::Cas ? AccessKind::Cas : insn == DataInsn::AtS1e1r ? AccessKind::At : AccessKind::Read;
        const bool cm = req.kind == AccessKind::CacheMaintenance;
        const bool other_insn = insn != DataInsn::LoadStore && !cm;  // CAS, DC ZVA, AT: results of their own
        const bool by_gva = f.has("gva");
        if (by_gva != v.stage1().has_value())
            throw ScenarioError(step.path + (by_gva ? "/gva" : "/gpa"), by_gva ? "an access by \"gva\" needs the MMU on (set_stage1_regs first)"
                                                                            : "the MMU is on (set_stage1_regs): accesses go by \"gva\"");
        if (cm && by_gva) throw Skip{"the backend's DC CIVAC routine runs with the MMU off only"};
        req.stage1 = v.stage1();
        req.address = by_gva ? f.u64("gva") : f.u64("gpa");
        if (req.stage1 && !granule_supported(v, req.stage1->granule_shift))
            throw Skip{"the emulated CPU has no " + std::to_string(1u << req.stage1->granule_shift >> 10) + "K stage-1 granule (ID_AA64MMFR0_EL1.TGran)"};
        req.size = req.kind == AccessKind::Fetch || cm ? 4 : req.kind == AccessKind::ZeroBlock || req.kind == AccessKind::At ? 8 : f.access_size("size");
        if (req.kind == AccessKind::Write || req.kind == AccessKind::Cas) req.data = f.data("data", req.size);
        if (req.kind == AccessKind::Cas) req.compare = f.data("compare", req.size);
        if (auto why = missing_feature(v, req.kind)) throw Skip{*why};
        if (f.has("mmio_reply")) req.mmio_reply = f.data("mmio_reply", req.size);
        req.isv = !other_insn && f.boolean_or("isv", true);
        if (f.boolean_or("s1ptw", false))
            throw Skip{"a hand-written S1PTW access (\"s1ptw\": true) has no instruction to make it; a real walk needs the MMU on (set_stage1_regs, access by gva)"};
        if ((req.address & 0xfff) + req.size > 0x1000) throw Skip{"the arm64 model takes accesses within one page (this one crosses a page boundary)"};
        prepare(req);
        if (v.initialised() && !req.stage1) {
            const unsigned pa = guest_parange(v);
            if (pa < 64 && req.address + req.size > (std::uint64_t{1} << pa))
                throw Skip{"the address is past the guest's PA size (" + std::to_string(pa) + " bits): with the MMU off, stage 1 faults before stage 2"};
        }
        const arm64::CodePlace at = place();
        // A fetch that succeeds executes what the target holds: `ret` for the duration, the
        // scenario's word put back afterwards. A target in no slot (or in one whose host
        // memory is gone) cannot be fetched, so nothing is written there.
        std::optional<std::uint32_t> saved;
        std::optional<std::uint64_t> fetch_ipa = req.address;
        if (req.kind == AccessKind::Fetch && req.stage1) fetch_ipa = host_translate(*req.stage1, req.address, Arm64AccessKind::Fetch);
        if (req.kind == AccessKind::Fetch && fetch_ipa && scenario_hva(ctx_.slots, *fetch_ipa)) {
            std::uint32_t word = 0, ret = arm64::kRetInsn;
            if (guest_phys_rw(ctx_.slots, ctx_.layout, *fetch_ipa, &word, 4, false) && guest_phys_rw(ctx_.slots, ctx_.layout, *fetch_ipa, &ret, 4, true))
                saved = word;
        }
        ctx_.trace.emit("KVM_RUN", [&] {
            const char* what = cm ? "dc civac at" : req.kind == AccessKind::ZeroBlock ? "dc zva at" : req.kind == AccessKind::Cas ? "casal at" : req.kind == AccessKind::At ? "at s1e1r of" : req.kind == AccessKind::Fetch ? "blr to" : req.kind == AccessKind::Write ? (req.isv ? "str to" : req.size == 8 ? "stp to" : "str (post-index) to")
                                                                                                        : (req.isv ? "ldr from" : req.size == 8 ? "ldp from" : "ldr (post-index) from");
            return std::string(what) + (req.stage1 ? " VA " : " IPA ") + hex(req.address) + " (" + std::to_string(req.size) + " bytes) by the backend's guest code at EL1, MMU " +
                   (req.stage1 ? "on" : "off");
        });
        arm64::AccessOutcome out = v.access(at, req, ctx_.layout);
        if (saved) (void)guest_phys_rw(ctx_.slots, ctx_.layout, *fetch_ipa, &*saved, 4, true);
        if (req.kind == AccessKind::Fetch && out.result.completed) {
            // A target the backend could not read before the run (a userfaultfd hole: /proc/self/mem
            // is refused there, handle_userfault() without FAULT_FLAG_ALLOW_RETRY) held no `ret`; the
            // guest ran the scenario's own code and came back. Its walk and fetch brought the pages in,
            // so the word it found can be read now.
            std::uint32_t word = 0;
            if (!saved && !fetch_ipa && req.stage1) fetch_ipa = host_translate(*req.stage1, req.address, Arm64AccessKind::Fetch);  // the tables, too
            if (saved) word = *saved;
            else if (!fetch_ipa || !guest_phys_rw(ctx_.slots, ctx_.layout, *fetch_ipa, &word, 4, false))
                throw Skip{"the fetch completed from memory the backend could not read"};
            out.result.data = word;
        }
        for (const VcpuEvent& e : out.result.events) ctx_.trace.emit("KVM_RUN", [&] { return "-> " + render(event_json(e, ExceptionStyle::Arm64)); });
        if (out.other_exit) ctx_.trace.emit("KVM_RUN", [&] { return "-> " + *out.other_exit; });
        if (out.esr) ctx_.trace.emit("KVM_RUN", [&] { return "the guest's handler read ESR_EL1 " + hex(*out.esr); });
        nlohmann::json j = out.result.events.empty() ? nlohmann::json::object() : event_json(out.result.events.front(), ExceptionStyle::Arm64);
        if (out.result.completed && req.kind == AccessKind::At) j["par"] = par_json_from_raw(out.result.data);
        else if (out.result.completed && req.kind != AccessKind::Write && !cm && req.kind != AccessKind::ZeroBlock) j["data"] = out.result.data;
        if (out.result.completed && out.result.events.empty() && req.kind == AccessKind::Write) j["data"] = req.data;
        if (out.other_exit) j["exit"] = *out.other_exit;
        if (req.stage1 && req.stage1->ha && out.result.completed && !cm) {
            const Arm64AccessKind k = req.kind == AccessKind::Fetch                                                               ? Arm64AccessKind::Fetch
                                      : req.kind == AccessKind::Write || req.kind == AccessKind::Cas || req.kind == AccessKind::ZeroBlock ? Arm64AccessKind::Write
                                                                                                                                       : Arm64AccessKind::Read;
            if (const auto af = leaf_af(*req.stage1, req.address, k)) j["pte_af"] = *af;
        }
        return j;
    }

    // The CPU features an instruction needs, from the vCPU's ID registers as KVM shows them
    // (page_fault_test's guest_check_lse() and guest_check_dc_zva()); unreadable: let it run.
    static std::optional<std::string> missing_feature(arm64::Vcpu& v, AccessKind kind) {
        if (kind == AccessKind::Cas) {
            const auto isar0 = v.get_reg(kIdAa64Isar0El1);
            if (isar0 && ((*isar0 >> 20) & 0xf) < 2) return "the vCPU has no LSE atomics (ID_AA64ISAR0_EL1.Atomic < 2): CASAL is undefined";
        }
        if (kind == AccessKind::ZeroBlock) {
            const auto dczid = v.get_reg(kDczidEl0);
            if (dczid && (*dczid >> 4) & 1) return "DC ZVA is prohibited (DCZID_EL0.DZP = 1)";
        }
        return std::nullopt;
    }

    VmContext& ctx_;
    std::map<std::uint32_t, std::unique_ptr<arm64::Vcpu>> vcpus_;
    bool code_written_ = false;
    std::uint64_t ttbr1_ = 0;
    std::optional<unsigned> parange_;
    std::map<std::uint64_t, std::uint64_t> pool_used_;  // build_stage1_tables pools, by gpa
    std::vector<Fd> devices_;  // KVM_CREATE_DEVICE fds

    // ID_AA64MMFR0_EL1.TGran4 (31:28, 0xf none), TGran64 (27:24, 0xf none), TGran16 (23:20, 0 none).
    static bool granule_supported(arm64::Vcpu& v, unsigned shift) {
        const auto mmfr0 = v.get_reg(kIdAa64Mmfr0El1);
        if (!mmfr0) return true;  // unreadable: let KVM_RUN decide
        if (shift == 12) return ((*mmfr0 >> 28) & 0xf) != 0xf;
        if (shift == 16) return ((*mmfr0 >> 24) & 0xf) != 0xf;
        return ((*mmfr0 >> 20) & 0xf) != 0;
    }
};

}  // namespace

std::optional<std::string> arch_cannot_reproduce(const Scenario& s) {
    if (s.arch != "arm64") return "an " + s.arch + " scenario; this host is arm64";
    if (s.realm) return "a CCA realm needs the CCA series and an RMM, in no booted kernel";
    // The RFC's cap number belongs to other caps upstream (206, 207): a step using it would
    // compare a different capability.
    for (const Step& st : s.steps)
        if (st.op == "vcpu_busy" || st.op == "setrlimit" || st.fields.value("cap", nlohmann::json()) == "KVM_CAP_ARM_LOCK_USER_MEMORY_REGION")
            return "the memslot-lock RFC (KVM_CAP_ARM_LOCK_USER_MEMORY_REGION) was never merged: it is in no booted kernel";
    return std::nullopt;
}

// KVM_VM_TYPE_ARM_IPA_SIZE(bits): 0 asks for the default 40 bits.
unsigned long arch_vm_type(const Scenario& s) { return s.ipa_bits & 0xffu; }

unsigned arch_phys_bits(const Fd&, const Scenario& s) { return s.ipa_bits ? s.ipa_bits : kDefaultIpaBits; }

std::unique_ptr<ArchGuest> make_arch_guest(VmContext& ctx) { return std::make_unique<Arm64Guest>(ctx); }

}  // namespace kvmsim::sim::kvmhost
