#include "gva_access.h"

#include <string>

#include "mmio.h"

namespace kvmsim {

Arm64WalkResult arm64_guest_walk(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64Stage1Regs& regs, Gva va, Arm64AccessKind kind, Arm64GuestAccessResult& res) {
    // Each descriptor read goes through stage 2 as the walker's own 8-byte load.
    const Arm64DescReader read = [&](Gpa at) -> std::optional<std::uint64_t> {
        Arm64GuestAccess d;
        d.ipa = at;
        d.size = 8;
        d.kind = Arm64AccessKind::Read;
        d.s1ptw = true;
        d.walk_for_fetch = kind == Arm64AccessKind::Fetch;
        d.far = va;
        const Arm64GuestAccessResult r = arm64_guest_access(vm, arch, vcpu, d);
        res.stage2_fault |= r.stage2_fault;
        if (r.run.completed && r.run.events.empty()) return r.run.data;
        res.run.events = r.run.events;
        return std::nullopt;
    };
    // With TCR_EL1.HA (and FEAT_HAFDBS: without it HA is RES0) the walker sets a clear AF by
    // writing the descriptor back: a stage-2 write flagged S1PTW, which KVM counts as a write
    // only on a permission fault (kvm_is_write_fault()), so a table page mapped read-only (a
    // dirty-logged slot) takes a permission fault and is logged, and one in a read-only slot
    // gets an abort injected (kvm_handle_guest_abort()).
    const Arm64DescWriter write = [&](Gpa at, std::uint64_t desc) {
        Arm64GuestAccess d;
        d.ipa = at;
        d.size = 8;
        d.kind = Arm64AccessKind::Write;
        d.data = desc;
        d.s1ptw = true;
        d.walk_for_fetch = kind == Arm64AccessKind::Fetch;
        d.far = va;
        const Arm64GuestAccessResult r = arm64_guest_access(vm, arch, vcpu, d);
        res.stage2_fault |= r.stage2_fault;
        if (r.run.completed && r.run.events.empty()) {
            vm.trace().emit("stage 1", [&] { return "va " + hex(va.value()) + ": the walker set the AF of the descriptor at ipa " + hex(at.value()) + " (TCR_EL1.HA)"; });
            return true;
        }
        res.run.events = r.run.events;
        return false;
    };
    Arm64Stage1Regs walk_regs = regs;
    walk_regs.ha = regs.ha && arch.host().hafdbs;
    const Arm64WalkResult w = arm64_stage1_walk(walk_regs, va, kind, read, write);
    res.s1_leaf = w.leaf_at;
    if (w.fault == Stage1Fault::Stage2)
        vm.trace().emit("stage 1", [&] { return "va " + hex(va.value()) + ": the walk's level-" + std::to_string(w.level) + " descriptor read did not complete"; });
    return w;
}

Arm64GuestAccessResult arm64_gva_access(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64Stage1Regs& regs, Gva va, Arm64GuestAccess a) {
    Arm64GuestAccessResult res;
    // A CPU without FEAT_LSE has no CAS, and DC ZVA with DCZID_EL0.DZP = 1 is prohibited: either
    // is an Undefined Instruction exception (EC 0) the guest takes at EL1, KVM never involved.
    if ((a.op == Arm64DataOp::CompareAndSwap && !arch.host().lse) || (a.op == Arm64DataOp::ZeroBlock && !arch.host().dc_zva)) {
        vm.trace().emit("CPU", [] { return std::string("the instruction is UNDEFINED on this CPU (no LSE, or DCZID_EL0.DZP = 1) -> the guest takes an Undefined Instruction exception"); });
        VcpuEvent e;
        e.kind = VcpuEvent::Kind::Exception;
        e.exception = GuestException{.vector = ESR_ELx_EC_UNKNOWN, .error_code = 0, .cr2 = va.value()};
        res.run.events.push_back(e);
        return res;
    }
    const Arm64WalkResult w = arm64_guest_walk(vm, arch, vcpu, regs, va, a.kind, res);
    if (w.fault == Stage1Fault::Stage2) return res;
    if (w.fault != Stage1Fault::None) {
        vm.trace().emit("stage 1", [&] {
            return "va " + hex(va.value()) + ": " + std::string(to_string(w.fault)) + " at level " + std::to_string(w.level) + " -> the guest takes it (FSC " + hex(w.fsc()) + ")";
        });
        VcpuEvent e = inject_abort(a.kind == Arm64AccessKind::Fetch ? ESR_ELx_EC_IABT_CUR : ESR_ELx_EC_DABT_CUR, Gpa(va.value()));
        e.exception.error_code = w.fsc();
        res.run.events.push_back(e);
        return res;
    }
    vm.trace().emit("stage 1", [&] { return "va " + hex(va.value()) + " -> ipa " + hex(w.ipa.value()) + " (level " + std::to_string(w.level) + " leaf " + hex(w.leaf) + ")"; });
    a.ipa = w.ipa;
    a.far = va;
    a.s1ptw = false;
    const Arm64GuestAccessResult r = arm64_guest_access(vm, arch, vcpu, a);
    res.run = r.run;
    res.stage2_fault |= r.stage2_fault;
    return res;
}

}  // namespace kvmsim
