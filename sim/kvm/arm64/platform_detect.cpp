// arm64: the contract's platforms are "rme" (an RMM in firmware, realms possible) and
// "no-rme". The backend cannot make realms (no booted kernel has the CCA series), so whatever
// the host has, what it reproduces is a no-rme machine.
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "../host_platform.h"

namespace kvmsim::sim::kvmhost {

void detect_platform(HostKvm& h) {
    h.platform = "no-rme";
    h.platform_why = "arm64 KVM without the CCA series runs normal VMs only";
}

namespace {

constexpr std::uint64_t kIdAa64Mmfr1El1 = ARM64_SYS_REG(3, 0, 0, 7, 1);
constexpr std::uint64_t kIdAa64Isar0El1 = ARM64_SYS_REG(3, 0, 0, 6, 0);
constexpr std::uint64_t kDczidEl0 = ARM64_SYS_REG(3, 3, 0, 0, 7);

std::optional<std::uint64_t> get_one_reg(const Fd& vcpu, std::uint64_t id) {
    std::uint64_t v = 0;
    kvm_one_reg reg{id, reinterpret_cast<std::uint64_t>(&v)};
    if (raw_ioctl(vcpu, KVM_GET_ONE_REG, &reg) < 0) return std::nullopt;
    return v;
}

}  // namespace

// The CPU features a guest sees: KVM's sanitised ID registers, read from a scratch vCPU (the
// values every vCPU of a VM starts with; kvm_arm_read_id_reg()/read_id_reg(), sys_regs.c).
// DCZID_EL0 is not one of KVM's userspace-visible registers in 6.1/6.12: the guest reads the
// hardware's, with DZP = HCR_EL2.TDZ at EL1, a bit KVM never sets (HCR_GUEST_FLAGS,
// asm/kvm_arm.h), so the block size is this CPU's and DC ZVA is allowed.
void read_arch_host_facts(const Fd& kvm, HostFacts& f) {
    const Fd vm(static_cast<int>(::ioctl(kvm.get(), KVM_CREATE_VM, 0)));
    if (!vm.valid()) return;
    const Fd vcpu(static_cast<int>(::ioctl(vm.get(), KVM_CREATE_VCPU, 0)));
    if (!vcpu.valid()) return;
    kvm_vcpu_init target{};
    if (raw_ioctl(vm, KVM_ARM_PREFERRED_TARGET, &target) < 0 || raw_ioctl(vcpu, KVM_ARM_VCPU_INIT, &target) < 0) return;
    f.id_aa64mmfr1 = get_one_reg(vcpu, kIdAa64Mmfr1El1);
    f.id_aa64isar0 = get_one_reg(vcpu, kIdAa64Isar0El1);
    f.dczid = get_one_reg(vcpu, kDczidEl0);
    if (!f.dczid) {
        std::uint64_t dczid = 0;
        asm volatile("mrs %0, dczid_el0" : "=r"(dczid));
        f.dczid = dczid & 0xf;  // BS only: DZP at EL0 is the host kernel's SCTLR_EL1.DZE, not the guest's
    }
}

}  // namespace kvmsim::sim::kvmhost
