#include "mmio.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace kvmsim {
namespace {

// ESR_ELx bits userspace may see in run->arm_nisv.esr_iss (kvm_vcpu_dabt_iss_nisv_sanitized()).
constexpr std::uint64_t ESR_ELx_WNR = 1ULL << 6;
// Data fault status codes: a translation fault at level n is ESR_ELx_FSC_FAULT + n, a
// permission fault ESR_ELx_FSC_PERM + n (the model maps pages only: level 3).
constexpr std::uint64_t ESR_ELx_FSC_FAULT = 0x04;
constexpr std::uint64_t ESR_ELx_FSC_PERM = 0x0c;

// models stage2_pgtable_levels() and kvm_get_vtcr()'s start level, arch/arm64/kvm/hyp/pgtable.c:
// 4K pages, up to 16 concatenated tables at the start level, at least two levels.
unsigned stage2_start_level(unsigned ipa_bits) {
    const unsigned levels = ipa_bits >= 12 ? std::max(2u, (ipa_bits - 4 - 4) / 9) : 2u;
    return levels >= 4 ? 0 : 4 - levels;
}

}  // namespace

VcpuEvent run_error(Errno e) {
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::RunError;
    ev.error = e;
    return ev;
}

VcpuEvent inject_abort(std::uint8_t ec, Gpa addr) {
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::Exception;
    // inject_abt64(), arch/arm64/kvm/inject_fault.c: always a synchronous external abort.
    ev.exception = GuestException{.vector = ec, .error_code = a64::FSC_EXTABT, .cr2 = addr.value()};
    return ev;
}

namespace {
// The level of the entry a permission fault stopped at: 2 in a 2M block, else 3.
unsigned stage2_leaf_level(Arm64Arch& arch, Gpa ipa) {
    const Stage2Pte* pte = arch.stage2().lookup(gpa_to_gfn(ipa));
    return pte ? pte->level : 3;
}
}  // namespace

void io_mem_abort(kvm& vm, Arm64Arch& arch, Gpa fault_ipa, Stage2FaultKind kind, const Arm64GuestAccess& a, GuestAccessResult& out) {
    const bool write = a.kind == Arm64AccessKind::Write;
    if (!a.isv) {
        if (arch.is_realm() && vm.profile().has(Patch::CcaRealm)) {
            // The RMM gives no register for an access without syndrome: the realm gets an SEA.
            vm.trace().emit("io_mem_abort", [] { return std::string("REC data abort without ISV -> SEA injected into the realm"); });
            out.events.push_back(inject_abort(ESR_ELx_EC_DABT_CUR, a.ipa));
            return;
        }
        if (arch.return_nisv_io_abort_to_user()) {
            VcpuEvent ev;
            ev.kind = VcpuEvent::Kind::Exit;
            ev.exit = Exit::ArmNisv;
            const std::uint64_t fsc = kind == Stage2FaultKind::Translation
                                          ? ESR_ELx_FSC_FAULT + arch.stage2().translation_fault_level(gpa_to_gfn(fault_ipa), stage2_start_level(arch.ipa_bits()))
                                          : ESR_ELx_FSC_PERM + stage2_leaf_level(arch, fault_ipa);
            ev.arm_nisv.esr_iss = fsc | (write ? ESR_ELx_WNR : 0);
            ev.arm_nisv.fault_ipa = fault_ipa.value();
            vm.trace().emit("io_mem_abort", [] { return std::string("no ISV, KVM_CAP_ARM_NISV_TO_USER enabled -> KVM_EXIT_ARM_NISV"); });
            out.events.push_back(ev);
            return;
        }
        vm.trace().emit("io_mem_abort", [] { return std::string("no ISV: load/store instruction decoding not implemented -> KVM_RUN returns -ENOSYS"); });
        out.events.push_back(run_error(Errno::Enosys));
        return;
    }
    // ISV: the syndrome gives size, direction and register; no in-kernel device claims the
    // address in this model, so userspace gets KVM_EXIT_MMIO.
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::Exit;
    ev.exit = Exit::Mmio;
    ev.mmio.phys_addr = fault_ipa;
    ev.mmio.len = a.size;
    ev.mmio.is_write = write;
    if (write) std::memcpy(ev.mmio.data.data(), &a.data, a.size);
    vm.trace().emit("io_mem_abort", [&] {
        return "KVM_EXIT_MMIO " + std::string(write ? "write" : "read") + " at " + hex(fault_ipa.value()) + " len " + std::to_string(a.size) +
               (arch.is_realm() ? " (realm: REC_ENTER_FLAG_EMULATED_MMIO on resume)" : " (PC += 4 on resume)");
    });
    out.events.push_back(ev);
    // kvm_handle_mmio_return() on the next KVM_RUN: a load takes userspace's data.
    out.completed = true;
    if (!write) std::memcpy(&out.data, a.mmio_reply.data(), a.size);
}

}  // namespace kvmsim
