#include "vgic.h"

#include <string>

#include "../kvm/kvm.h"
#include "arm64_arch.h"

namespace kvmsim {

std::string_view to_string(KvmDeviceType t) {
    switch (t) {
    case KvmDeviceType::ArmVgicV3: return "KVM_DEV_TYPE_ARM_VGIC_V3";
    case KvmDeviceType::ArmVgicIts: return "KVM_DEV_TYPE_ARM_VGIC_ITS";
    }
    return "?";
}

std::optional<KvmDeviceType> device_type_from_string(std::string_view name) {
    if (name == "KVM_DEV_TYPE_ARM_VGIC_V3") return KvmDeviceType::ArmVgicV3;
    if (name == "KVM_DEV_TYPE_ARM_VGIC_ITS") return KvmDeviceType::ArmVgicIts;
    return std::nullopt;
}

namespace {

KvmResult refuse(kvm& vm, const char* fn, Errno e, const std::string& why) {
    vm.trace().emit(fn, [&] { return why + " -> -" + std::string(to_string(e)); });
    return KvmResult::error(e);
}

// models kvm_vgic_create(), arch/arm64/kvm/vgic/vgic-init.c (v6.1 to v6.18)
KvmResult kvm_vgic_create(kvm& vm, Arm64Arch& arch) {
    Arm64Vgic& vgic = arch.vgic();
    // lock_all_vcpus() (kvm_trylock_all_vcpus() later) fails while any vCPU is inside an ioctl.
    if (arch.any_vcpu_mutex_held()) return refuse(vm, "kvm_vgic_create", Errno::Ebusy, "a vCPU's mutex is held (lock_all_vcpus() fails)");
    if (vgic.in_kernel) return refuse(vm, "kvm_vgic_create", Errno::Eexist, "the VM already has an in-kernel GIC (irqchip_in_kernel())");
    if (arch.any_vcpu_has_run()) return refuse(vm, "kvm_vgic_create", Errno::Ebusy, "a vCPU has run (vcpu_has_run_once())");
    // -E2BIG for more online vCPUs than VGIC_V3_MAX_CPUS cannot happen: no modelled host allows more.
    vgic.in_kernel = true;
    vgic.max_vcpus = VGIC_V3_MAX_CPUS;
    vm.trace().emit("kvm_vgic_create", [] { return std::string("in-kernel GICv3 created; kvm->max_vcpus = VGIC_V3_MAX_CPUS (512)"); });
    return KvmResult::ok();
}

// models vgic_its_create(), arch/arm64/kvm/vgic/vgic-its.c: no vGIC needed first, any number of ITSes
KvmResult vgic_its_create(kvm& vm, Arm64Arch& arch) {
    arch.vgic().msis_require_devid = true;
    vm.trace().emit("vgic_its_create", [] { return std::string("ITS created: msis_require_devid = true"); });
    return KvmResult::ok();
}

}  // namespace

// models kvm_ioctl_create_device(), virt/kvm/kvm_main.c: KVM_CREATE_DEVICE_TEST asks only whether
// the type's ops are registered (both are, on a GICv3 host: kvm_register_vgic_device())
KvmResult kvm_ioctl_create_device(kvm& vm, Arm64Arch& arch, KvmDeviceType type, bool test) {
    if (test) {
        vm.trace().emit("kvm_ioctl_create_device", [&] { return std::string(to_string(type)) + ": KVM_CREATE_DEVICE_TEST, the type exists -> 0"; });
        return KvmResult::ok();
    }
    return type == KvmDeviceType::ArmVgicV3 ? kvm_vgic_create(vm, arch) : vgic_its_create(vm, arch);
}

// models kvm_vgic_map_resources(), arch/arm64/kvm/vgic/vgic-init.c (from kvm_arch_vcpu_run_pid_change()):
// vgic_v3_map_resources() wants every redistributor's and the distributor's base set, and a failure kills the VM
std::optional<Errno> kvm_vgic_map_resources(kvm& vm, Arm64Arch& arch) {
    if (!arch.vgic().in_kernel) return std::nullopt;
    vm.trace().emit("kvm_vgic_map_resources", [] {
        return std::string("the vGIC's redistributor and distributor bases are unset (no KVM_DEV_ARM_VGIC_GRP_ADDR) -> -ENXIO, and kvm_vm_dead(): "
                           "every later VM, vCPU and device ioctl is -EIO");
    });
    arch.kvm_vm_dead();
    return Errno::Enxio;
}

}  // namespace kvmsim
