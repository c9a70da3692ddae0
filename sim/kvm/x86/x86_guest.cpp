// The kvm backend's x86_64 guest: vCPUs with CPUID and 64-bit mode, accesses by gpa through the
// backend's identity map or by gva through the scenario's own tables, KVM_SET_SREGS and the
// page-table builder, and the VMM loop's KVM_RUN.
#include <linux/kvm.h>

#include <algorithm>
#include <map>
#include <memory>

#include "../../paging_steps.h"
#include "../../outcome.h"
#include "../../runner.h"
#include "../arch_guest.h"
#include "../guest_memory.h"
#include "guest_image.h"
#include "model/x86/platform.h"
#include "vcpu.h"

namespace kvmsim::sim::kvmhost {

const char* const kHostArch = "x86_64";

namespace {

constexpr std::uint64_t kAccessedDirty = 0x60;
constexpr std::uint64_t kCr0Pg = 1ull << 31, kCr4La57 = 1u << 12, kEferLma = 1u << 10;

// What KVM_CREATE_VM takes for the contract's VM type: the model's UAPI mapping.
std::optional<unsigned long> vm_type_number(const std::string& type) {
    const auto t = vm_type_from_string(type);
    if (!t) return std::nullopt;
    return static_cast<unsigned long>(kvm_x86_vm_type(*t));
}

// A vCPU's registers as the scenario set them (the model's reset values until it does).
struct ScenarioPagingState {
    ScenarioPaging regs{0x60000010, 0, 0, 0};
    std::optional<std::uint64_t> idt_base;
};

class X86Guest final : public ArchGuest {
public:
    explicit X86Guest(VmContext& ctx) : ctx_(ctx) { plan_alias_index(ctx.scenario); }

    std::optional<nlohmann::json> dispatch(const Step& step, const StepFields& f) override {
        const std::string& op = step.op;
        if (op == "KVM_CREATE_VCPU") return create_vcpu(f);
        if (op == "guest_read" || op == "guest_write") return guest_access(step, f);
        if (op == "KVM_SET_SREGS") return set_sregs(step, f);
        if (op == "build_page_tables") return build_page_tables(step, f);
        if (op == "guest_fetch") throw Skip{"a fetch that succeeds would execute the scenario's memory as code"};
        return std::nullopt;
    }

    // KVM_RUN for the VMM's loop (vmm_guest_read/write) on vCPU `id`: the backend's guest code
    // makes the access, and the VMM answers each MMIO exit before the next real KVM_RUN.
    std::optional<vmm::KvmRun> vmm_vcpu_run(std::uint32_t id) override {
        const auto it = vcpus_.find(id);
        if (it == vcpus_.end()) return std::nullopt;
        Vcpu* vcpu = it->second.get();
        return [this, vcpu](const vmm::VcpuAccess& a, const vmm::MmioExitFn& on_mmio) {
            AccessRequest req;
            req.op = a.is_write ? GuestOp::Write : GuestOp::Read;
            req.size = a.size;
            req.data = a.data;
            if (!vcpu->ready())
                if (auto err = vcpu->configure(ctx_.kvm)) throw Skip{"vCPU setup failed: " + *err};
            const GuestContext context = prepare_gpa_access(req, a.gpa.value());
            const MmioAnswer answer = on_mmio;
            const AccessOutcome out = vcpu->access(context, req, ctx_.layout, &answer);
            // Without an event to end on, the VMM could not tell what stopped the access.
            const bool ends_on_mmio = !out.result.events.empty() && out.result.events.back().kind == VcpuEvent::Kind::Exit && out.result.events.back().exit == Exit::Mmio;
            if (out.other_exit && (out.result.events.empty() || ends_on_mmio))
                throw Skip{"KVM_RUN for the VMM: " + *out.other_exit};
            return out.result;
        };
    }

private:
    // A PML4 slot (4-level paging) that no gva of the scenario falls in: accesses by gva map the
    // backend's code there. Slot 256 is avoided (PVM keeps it for itself at CPL 3).
    void plan_alias_index(const Scenario& s) {
        std::vector<bool> used(512, false);
        auto mark = [&](std::uint64_t gva, std::uint64_t size) {
            const std::uint64_t first = (gva >> 39) & 511, last = ((gva + (size ? size - 1 : 0)) >> 39) & 511;
            for (std::uint64_t i = first;; i = (i + 1) & 511) {
                used[i] = true;
                if (i == last) break;
            }
        };
        for (const Step& st : s.steps) {
            const StepFields f(st, s);
            try {
                if (f.has("gva")) mark(f.u64("gva"), 8);
                if (f.has("idt_base")) mark(f.u64("idt_base"), 32 * 16);
                if (st.op == "build_page_tables")
                    for (const PtMapping& m : parse_page_table_spec(st, f).maps) mark(m.gva.value(), m.size);
            } catch (const ScenarioError&) {
                // An unreadable step fails on its own.
            }
        }
        for (unsigned i = 255; i >= 1; --i)
            if (!used[i]) {
                alias_index_ = i;
                return;
            }
    }

    GuestImage& image() {
        if (!image_) {
            const GuestRegion r = ctx_.region();
            image_.emplace(std::span(r.mem, GuestImage::kSize), Gpa(r.gpa));
        }
        return *image_;
    }

    void require_safe_slots(std::optional<std::uint64_t> gpa, std::uint64_t size) const {
        if (auto why = unsafe_slots(ctx_.slots, ctx_.layout, gpa, size)) throw Skip{*why};
    }

    bool guest_phys(std::uint64_t gpa, void* v, unsigned size, bool write) { return guest_phys_rw(ctx_.slots, ctx_.layout, gpa, v, size, write); }

    nlohmann::json create_vcpu(const StepFields& f) {
        const std::uint32_t id = f.u32("id");
        const long r = raw_ioctl(ctx_.vm, KVM_CREATE_VCPU, static_cast<unsigned long>(id));
        if (r < 0) return errno_json(r);
        vcpus_.emplace(id, std::make_unique<Vcpu>(Fd(static_cast<int>(r)), ctx_.run_size));
        return 0;
    }

    Vcpu& ready_vcpu(const Step& step, const StepFields& f) {
        const std::uint32_t id = f.u32("vcpu");
        const auto it = vcpus_.find(id);
        if (it == vcpus_.end()) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(id) + " (create it with KVM_CREATE_VCPU first)");
        if (!it->second->ready())
            if (auto err = it->second->configure(ctx_.kvm)) throw Skip{"vCPU setup failed: " + *err};
        return *it->second;
    }

    nlohmann::json guest_access(const Step& step, const StepFields& f) {
        AccessRequest req;
        req.op = step.op == "guest_write" ? GuestOp::Write : GuestOp::Read;
        req.size = f.access_size("size");
        if (req.op == GuestOp::Write) req.data = f.data("data", req.size);
        if (f.has("mmio_reply")) req.mmio_reply = f.data("mmio_reply", req.size);
        Vcpu& vcpu = ready_vcpu(step, f);
        const ScenarioPagingState& paging = paging_[f.u32("vcpu")];
        const bool by_gva = f.has("gva");
        // A gva with paging off is a physical address, as the model reads it.
        if (!by_gva || !(paging.regs.cr0 & kCr0Pg)) return gpa_access(req, by_gva ? f.u64("gva") : f.u64("gpa"), vcpu);
        return gva_access(req, f, paging, vcpu);
    }

    // What a gpa access needs before its KVM_RUN; throws Skip where it cannot be reproduced.
    GuestContext prepare_gpa_access(AccessRequest& req, std::uint64_t gpa) {
        const unsigned maxphyaddr = arch_phys_bits(ctx_.kvm, ctx_.scenario);
        if (maxphyaddr < 64 && gpa + req.size > (std::uint64_t{1} << maxphyaddr))
            throw Skip{"a gpa beyond the guest's MAXPHYADDR (" + std::to_string(maxphyaddr) + " bits) cannot be reached by a paged access"};
        require_safe_slots(gpa, req.size);
        GuestImage& img = image();
        if (!img.map_identity(Gpa(gpa), req.size)) throw Skip{"the backend's page-table pool is exhausted"};
        // The identity map's linear address is the gpa, sign-extended from bit 47 so gpas in the
        // top half of a 48-bit space stay canonical (one PML4 entry translates both forms).
        req.address = (gpa & (std::uint64_t{1} << 47)) ? gpa | 0xffff000000000000ull : gpa;
        return img.identity_context(req.op, req.size);
    }

    nlohmann::json gpa_access(AccessRequest& req, std::uint64_t gpa, Vcpu& vcpu) {
        const GuestContext context = prepare_gpa_access(req, gpa);
        ctx_.trace.emit("KVM_RUN", [&] {
            return std::string(req.op == GuestOp::Write ? "mov to " : "mov from ") + "gpa " + hex(gpa) + " (" + std::to_string(req.size) +
                   " bytes) by the backend's guest code at CPL 0, 64-bit mode, identity-mapped";
        });
        return run_access(vcpu, context, req);
    }

    // Through the scenario's own 4-level tables: the backend's image is mapped for the access in
    // a PML4 slot no step uses, and that entry is put back as it was afterwards.
    nlohmann::json gva_access(AccessRequest& req, const StepFields& f, const ScenarioPagingState& paging, Vcpu& vcpu) {
        const std::uint64_t gva = f.u64("gva");
        if (!(paging.regs.efer & kEferLma) || (paging.regs.cr4 & kCr4La57))
            throw Skip{"the backend's guest code runs in 64-bit mode: only 4-level paging is reproduced"};
        if (paging.idt_base) throw Skip{"delivery through the scenario's IDT would run the scenario's handlers; the backend reports faults through its own IDT"};
        if (f.u32_or("cpl", 0) != 0) throw Skip{"user-mode (CPL 3) accesses need ring-3 code and a TSS, which the backend's guest does not have"};
        if (!alias_index_) throw Skip{"every PML4 slot is used by the scenario; none is left for the backend's code"};
        require_safe_slots(std::nullopt, 0);
        GuestImage& img = image();
        const std::uint64_t pml4e_gpa = (paging.regs.cr3 & 0x000ffffffffff000ull) + *alias_index_ * 8;
        std::uint64_t saved = 0;
        if (!guest_phys(pml4e_gpa, &saved, 8, false))
            throw Skip{"the scenario's root page table is not in a slot the backend can write its code's PML4 entry into"};
        std::uint64_t alias = img.make_alias(*alias_index_);
        (void)guest_phys(pml4e_gpa, &alias, 8, true);
        req.address = gva;
        ctx_.trace.emit("KVM_RUN", [&] {
            return std::string(req.op == GuestOp::Write ? "mov to " : "mov from ") + "gva " + hex(gva) + " (" + std::to_string(req.size) +
                   " bytes) at CPL 0 on the scenario's CR0/CR3/CR4/EFER; the backend's code sits in PML4 slot " + std::to_string(*alias_index_);
        });
        nlohmann::json j = run_access(vcpu, img.alias_context({paging.regs.cr0, paging.regs.cr3, paging.regs.cr4, paging.regs.efer}, req.op, req.size), req);
        std::uint64_t after = 0;
        (void)guest_phys(pml4e_gpa, &after, 8, false);
        (void)guest_phys(pml4e_gpa, &saved, 8, true);
        // A store that reached the root table (through another slot aliasing its host page) may
        // have rewritten the entry the backend's code ran from: the outcome is then the
        // backend's, not the kernel's.
        if ((after & ~kAccessedDirty) != (alias & ~kAccessedDirty))
            throw Skip{"the guest's access rewrote the PML4 entry the backend's code runs from"};
        return j;
    }

    nlohmann::json run_access(Vcpu& vcpu, const GuestContext& context, const AccessRequest& req) {
        const AccessOutcome out = vcpu.access(context, req, ctx_.layout);
        for (const VcpuEvent& e : out.result.events) ctx_.trace.emit("KVM_RUN", [&] { return "-> " + render(event_json(e)); });
        if (out.other_exit) ctx_.trace.emit("KVM_RUN", [&] { return "-> " + *out.other_exit; });
        if (out.result.completed) ctx_.trace.emit("KVM_RUN", [] { return std::string("-> KVM_EXIT_HLT after the access: it retired"); });
        // The scenario format has no outcome for a vCPU the kernel never hands back (seen under
        // NPT with the guest's page tables in a read-only slot: the kernel re-enters the guest
        // for ever); it is skipped, and named.
        if (out.timed_out) throw Skip{"KVM_RUN did not return within 10 s: the kernel re-enters the guest for ever (no scenario outcome for that)"};
        nlohmann::json j = guest_access_json(out.result, req.op == GuestOp::Write, req.data);
        if (out.other_exit) j["exit"] = *out.other_exit;
        return j;
    }

    // KVM_SET_SREGS with the scenario's control registers; CS follows the mode (CS.L only in
    // long mode, as kvm_is_valid_sregs() requires).
    nlohmann::json set_sregs(const Step& step, const StepFields& f) {
        Vcpu& vcpu = ready_vcpu(step, f);
        ScenarioPagingState next = paging_[f.u32("vcpu")];
        next.regs.cr0 = f.u64_or("cr0", next.regs.cr0);
        next.regs.cr3 = f.u64_or("cr3", next.regs.cr3);
        next.regs.cr4 = f.u64_or("cr4", next.regs.cr4);
        next.regs.efer = f.u64_or("efer", next.regs.efer);
        if (f.has("idt_base")) next.idt_base = f.u64("idt_base");
        const long r = vcpu.set_control_registers(next.regs.cr0, next.regs.cr3, next.regs.cr4, next.regs.efer);
        ctx_.trace.emit("ioctl", [&] {
            return "KVM_SET_SREGS {cr0 " + hex(next.regs.cr0) + ", cr3 " + hex(next.regs.cr3) + ", cr4 " + hex(next.regs.cr4) + ", efer " +
                   hex(next.regs.efer) + "} = " + errno_json(r).dump();
        });
        if (r == 0) paging_[f.u32("vcpu")] = next;
        return errno_json(r);
    }

    // The page tables, written through the VMM's mapping of guest memory, as the model does.
    nlohmann::json build_page_tables(const Step& step, const StepFields& f) {
        const PtBuildSpec spec = parse_page_table_spec(step, f);
        PtMemory mem;
        mem.read = [&](Gpa gpa, std::uint64_t& v, unsigned size) {
            v = 0;
            return guest_phys(gpa.value(), &v, size, false);
        };
        mem.write = [&](Gpa gpa, std::uint64_t v, unsigned size) { return guest_phys(gpa.value(), &v, size, true); };
        std::uint64_t& used = pool_used_[spec.pool.value()];
        const PtBuildResult r = kvmsim::build_page_tables(spec, mem, used);
        if (r.error) throw ScenarioError(step.path, "build_page_tables: " + *r.error);
        used = r.pool_used;
        ctx_.trace.emit("build_page_tables", [&] { return std::to_string(r.writes.size()) + " entries written through the VMM's mapping"; });
        return 0;
    }

    VmContext& ctx_;
    std::map<std::uint32_t, std::unique_ptr<Vcpu>> vcpus_;
    std::map<std::uint32_t, ScenarioPagingState> paging_;  // by vCPU id, as KVM_SET_SREGS steps set it
    std::map<std::uint64_t, std::uint64_t> pool_used_;     // build_page_tables pools, by gpa
    std::optional<unsigned> alias_index_;                   // PML4 slot for the backend's code
    std::optional<GuestImage> image_;
};

}  // namespace

std::optional<std::string> arch_cannot_reproduce(const Scenario& s) {
    if (s.arch != "x86_64") return "an " + s.arch + " scenario; this host is x86_64";
    if (!vm_type_number(s.vm_type)) return "VM type \"" + s.vm_type + "\" has no KVM_CREATE_VM number known to the backend";
    return std::nullopt;
}

unsigned long arch_vm_type(const Scenario& s) { return *vm_type_number(s.vm_type); }

unsigned arch_phys_bits(const Fd& kvm, const Scenario&) {
    static const unsigned bits = guest_maxphyaddr(kvm);  // one host, one answer
    return bits;
}

std::unique_ptr<ArchGuest> make_arch_guest(VmContext& ctx) { return std::make_unique<X86Guest>(ctx); }

}  // namespace kvmsim::sim::kvmhost
