#include "arm64_steps.h"

#include <cstring>
#include <set>

#include "model/arm64/at.h"
#include "model/arm64/guest_access.h"
#include "model/arm64/gva_access.h"
#include "model/arm64/lock_memslot.h"
#include "model/arm64/mmio.h"
#include "arm64_device_step.h"
#include "arm64_insn.h"
#include "outcome.h"

namespace kvmsim::sim {
namespace {

constexpr std::uint64_t kMaxRlimitMemlock = 4ULL << 30;  // keeps a lock's pin loop bounded

// The steps that are ioctls on the VM fd or a vCPU fd (or a device fd), which a dead VM refuses.
bool on_vm_or_vcpu_fd(const std::string& op, const StepFields& f) {
    static const std::set<std::string> ops = {"KVM_SET_USER_MEMORY_REGION", "KVM_GET_DIRTY_LOG", "KVM_CLEAR_DIRTY_LOG", "KVM_CREATE_VCPU", "KVM_ENABLE_CAP",
                                              "KVM_ARM_VCPU_INIT", "KVM_CREATE_DEVICE", "set_stage1_regs", "guest_read", "guest_write", "guest_fetch",
                                              "guest_dc", "vmm_guest_read", "vmm_guest_write"};
    if (op == "KVM_CHECK_EXTENSION") return !(f.has("fd") && f.string("fd") == "system");
    return ops.contains(op);
}


}  // namespace

std::unique_ptr<Arm64Arch> make_arm64_arch(const Scenario& scenario, const Profile& profile, HostMm& mm, const HostDescription& described) {
    Arm64HostOptions host = arm64_host_options(*arm64_platform_from_string(scenario.platform));
    if (scenario.host_pins.online_cpus) host.online_cpus = *scenario.host_pins.online_cpus;
    host.hafdbs = described.arm64_hafdbs.value_or(host.hafdbs);
    host.lse = described.arm64_lse.value_or(host.lse);
    host.dc_zva = described.arm64_dc_zva.value_or(host.dc_zva);
    host.dczva_block = described.arm64_dczva_block.value_or(host.dczva_block);
    const std::uint64_t type = arm64_vm_type_word(profile, scenario.realm, scenario.ipa_bits);
    const Arm64VmTypeResult r = kvm_arch_init_vm(profile, host, type);
    if (!r.type)
        throw ScenarioError("/vm", "KVM_CREATE_VM(" + hex(type) + "): " + std::string(to_string(r.error)) + ": " + r.why + " (profile " + profile.name() +
                                       ", platform " + scenario.platform + ")");
    return std::make_unique<Arm64Arch>(mm, host, *r.type);
}

Cap Arm64Steps::resolve_cap(const StepFields& f) const {
    // The lock RFC's cap is named by the profile's UAPI header: 206 in v4, 207 in v5.
    if (f.has("cap") && f.is_string("cap") && f.string("cap") == "KVM_CAP_ARM_LOCK_USER_MEMORY_REGION") return static_cast<Cap>(lock_cap_number(vm_.profile()));
    return static_cast<Cap>(f.cap("cap"));
}

std::optional<nlohmann::json> Arm64Steps::dispatch(const Step& step, const StepFields& f) {
    const std::string& op = step.op;
    if (arch_.vm_dead() && on_vm_or_vcpu_fd(op, f)) {
        // kvm_vm_ioctl() and kvm_vcpu_ioctl(), virt/kvm/kvm_main.c: kvm->vm_dead -> -EIO before anything else.
        vm_.trace().emit(op, [] { return std::string("the VM is dead (kvm->vm_dead) -> -EIO"); });
        if (op.starts_with("guest_") || op.starts_with("vmm_guest_")) return event_json(run_error(Errno::Eio), ExceptionStyle::Arm64);
        return "EIO";
    }
    if (op == "KVM_CHECK_EXTENSION") {
        const bool system = f.has("fd") && f.string("fd") == "system";
        const Cap cap = resolve_cap(f);
        return cap_answer(vm_.check_extension(cap, system ? CheckOn::SystemFd : CheckOn::VmFd), cap, vm_.profile().name(), step.path);
    }
    if (op == "KVM_ENABLE_CAP") return result_json(vm_.enable_cap(resolve_cap(f), f.enable_cap_flags("flags"), f.args("args")));
    if (op == "KVM_CREATE_VM") {
        const Arm64VmTypeResult r = kvm_arch_init_vm(vm_.profile(), arch_.host(), f.u64("type"));
        vm_.trace().emit("kvm_arch_init_vm", [&] { return r.type ? std::string("accepted (this VM is not the scenario's)") : std::string(r.why); });
        return r.type ? nlohmann::json(0) : nlohmann::json(std::string(to_string(r.error)));
    }
    if (op == "KVM_ARM_VCPU_INIT") {
        kvm_vcpu* vcpu = vm_.vcpu(f.u32("vcpu"));
        if (!vcpu) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")) + " (create it with KVM_CREATE_VCPU first)");
        return result_json(kvm_arch_vcpu_ioctl_vcpu_init(vm_, arch_, *vcpu));
    }
    if (op == "vcpu_busy") {
        if (!vm_.vcpu(f.u32("vcpu"))) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")));
        arch_.vcpu_arch(f.u32("vcpu")).mutex_held = f.boolean_or("busy", true);
        return 0;
    }
    if (op == "setrlimit") {
        if (f.string("resource") != "RLIMIT_MEMLOCK") throw ScenarioError(f.path("resource"), "only \"RLIMIT_MEMLOCK\" is modelled");
        const std::uint64_t limit = f.u64("rlim_cur");
        if (limit > kMaxRlimitMemlock) throw ScenarioError(f.path("rlim_cur"), "at most 4G in this model");
        arch_.process().rlimit_memlock = limit;
        return 0;
    }
    if (op == "KVM_CREATE_DEVICE") {
        const CreateDeviceArgs d = parse_create_device(f);
        return result_json(kvm_ioctl_create_device(vm_, arch_, d.type, d.test));
    }
    if (op == "build_stage1_tables") return stage1_.build(vm_, step, f);
    if (op == "set_stage1_regs") return stage1_.set_regs(vm_, arch_, step, f);
    if (op == "guest_read" || op == "guest_write" || op == "guest_fetch" || op == "guest_dc" || op == "guest_cas") return guest_access(step, f);
    if (op == "guest_at") return guest_at(step, f);
    return std::nullopt;
}

nlohmann::json Arm64Steps::guest_access(const Step& step, const StepFields& f) {
    kvm_vcpu* vcpu = vm_.vcpu(f.u32("vcpu"));
    if (!vcpu) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")) + " (create it with KVM_CREATE_VCPU first)");
    if (arch_.vcpu_arch(vcpu->vcpu_id).mutex_held)
        throw ScenarioError(step.path + "/vcpu", "vCPU " + std::to_string(vcpu->vcpu_id) + " is held by vcpu_busy; KVM_RUN would block (release it first)");
    Arm64GuestAccess a;
    const Arm64Stage1Regs regs = stage1_.regs(vcpu->vcpu_id);
    const bool by_gva = f.has("gva");
    if (by_gva != regs.mmu_on)
        throw ScenarioError(step.path + (by_gva ? "/gva" : "/gpa"), by_gva ? "an access by \"gva\" needs the MMU on (set_stage1_regs first)"
                                                                        : "the MMU is on (set_stage1_regs): accesses go by \"gva\"");
    const std::uint64_t addr = by_gva ? f.u64("gva") : f.u64("gpa");
    a.ipa = Gpa(addr);
    const DataInsn insn = data_insn(step, f);
    a.kind = step.op == "guest_write" || step.op == "guest_dc" || step.op == "guest_cas" ? Arm64AccessKind::Write
             : step.op == "guest_fetch"                                                  ? Arm64AccessKind::Fetch
                                                                                         : Arm64AccessKind::Read;
    a.cache_maintenance = insn == DataInsn::DcCivac;
    a.op = insn == DataInsn::Cas ? Arm64DataOp::CompareAndSwap : insn == DataInsn::DcZva ? Arm64DataOp::ZeroBlock : Arm64DataOp::LoadStore;
    a.size = a.kind == Arm64AccessKind::Fetch || step.op == "guest_dc" ? 4 : f.access_size("size");
    if (offset_in_page(addr) + a.size > PAGE_SIZE)
        throw ScenarioError(f.path(by_gva ? "gva" : "gpa"), "the arm64 model takes accesses within one page (this one crosses a page boundary)");
    if (a.kind == Arm64AccessKind::Write && step.op != "guest_dc") a.data = f.data("data", a.size);
    if (insn == DataInsn::Cas) a.compare = f.data("compare", a.size);
    a.zva_block = arch_.host().dczva_block;  // 4 << DCZID_EL0.BS of the CPU compared with
    const std::uint64_t reply = f.has("mmio_reply") ? f.data("mmio_reply", a.size) : 0;
    std::memcpy(a.mmio_reply.data(), &reply, sizeof reply);
    // CAS and the DC instructions are not single-register loads or stores: ESR_EL2.ISV = 0.
    a.isv = insn == DataInsn::LoadStore && f.boolean_or("isv", true);
    a.s1ptw = f.boolean_or("s1ptw", false);
    if (by_gva && a.s1ptw) throw ScenarioError(f.path("s1ptw"), "with the MMU on the walk is real: S1PTW accesses come from it, not from \"s1ptw\"");
    const Arm64GuestAccessResult res = by_gva ? arm64_gva_access(vm_, arch_, *vcpu, regs, Gva(addr), a) : arm64_guest_access(vm_, arch_, *vcpu, a);
    nlohmann::json j = res.run.events.empty() ? nlohmann::json::object() : event_json(res.run.events.front(), ExceptionStyle::Arm64);
    if (res.run.completed && (a.kind != Arm64AccessKind::Write || insn == DataInsn::Cas)) j["data"] = res.run.data;
    if (res.run.completed && res.run.events.empty() && a.kind == Arm64AccessKind::Write && insn == DataInsn::LoadStore) j["data"] = a.data;
    j["stage2_fault"] = res.stage2_fault;
    // With TCR_EL1.HA set: the leaf descriptor's AF after a completed access, as the VMM reads it
    // (page_fault_test's check_pte_af()).
    if (regs.ha && res.run.completed && res.s1_leaf && !a.cache_maintenance)
        if (const auto desc = Arm64Stage1Steps::read_desc(vm_, *res.s1_leaf)) j["pte_af"] = (*desc & a64::DESC_AF) != 0;
    return j;
}

nlohmann::json Arm64Steps::guest_at(const Step& step, const StepFields& f) {
    kvm_vcpu* vcpu = vm_.vcpu(f.u32("vcpu"));
    if (!vcpu) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")) + " (create it with KVM_CREATE_VCPU first)");
    const Arm64Stage1Regs regs = stage1_.regs(vcpu->vcpu_id);
    if (!regs.mmu_on) throw ScenarioError(step.path + "/gva", "an access by \"gva\" needs the MMU on (set_stage1_regs first)");
    const Arm64AtResult r = arm64_at_s1e1r(vm_, arch_, *vcpu, regs, Gva(f.u64("gva")));
    nlohmann::json j = r.access.run.events.empty() ? nlohmann::json::object() : event_json(r.access.run.events.front(), ExceptionStyle::Arm64);
    if (r.par) j["par"] = par_json(r.par->f, r.par->f ? r.par->fst : r.par->pa.value());
    j["stage2_fault"] = r.access.stage2_fault;
    // With TCR_EL1.HA: whether the walk set the leaf's AF (the C test's with_af AT rows expect it set).
    if (regs.ha && r.par && r.access.s1_leaf)
        if (const auto desc = Arm64Stage1Steps::read_desc(vm_, *r.access.s1_leaf)) j["pte_af"] = (*desc & a64::DESC_AF) != 0;
    return j;
}

}  // namespace kvmsim::sim
