#include "at.h"

#include <string>

#include "gva_access.h"

namespace kvmsim {

Arm64AtResult arm64_at_s1e1r(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64Stage1Regs& regs, Gva va) {
    Arm64AtResult r;
    // S1E1R checks read permission. A stage-2 fault on a descriptor read is taken to EL2 like any
    // S1PTW abort; kvm_is_write_fault() looks at S1PTW before WnR/CM, so the walk is a write only
    // where that rule says so (a permission fault since 406504c7b040).
    const Arm64WalkResult w = arm64_guest_walk(vm, arch, vcpu, regs, va, Arm64AccessKind::Read, r.access);
    if (w.fault == Stage1Fault::Stage2) return r;
    Arm64Par par;
    if (w.fault != Stage1Fault::None) {
        par.f = true;
        par.fst = w.fsc();
    } else {
        par.pa = Gpa(w.ipa.value() & a64::OA_MASK);
    }
    vm.trace().emit("AT S1E1R", [&] {
        return "va " + hex(va.value()) + " -> PAR_EL1.F " + (par.f ? "1, FST " + hex(par.fst) : "0, PA " + hex(par.pa.value())) + " (no exception)";
    });
    r.access.run.completed = true;
    r.par = par;
    return r;
}

}  // namespace kvmsim
