// The in-kernel GIC as KVM_CREATE_DEVICE makes it (arch/arm64/kvm/vgic/): a vGICv3 and its ITS,
// as far as the scenarios see them. What an ITS changes is KVM_CAP_MSI_DEVID (MSIs must carry
// a device ID once the VM has one); what a vGIC changes is the vCPUs' first KVM_RUN, which maps
// its resources and fails while their guest addresses are unset (the model has no
// KVM_DEV_ARM_VGIC_GRP_ADDR, so they always are).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "../errno.h"
#include "../result.h"

namespace kvmsim {

class kvm;
class Arm64Arch;

// UAPI enum kvm_device_type (include/uapi/linux/kvm.h): the arm64 GIC's.
enum class KvmDeviceType : std::uint32_t {
    ArmVgicV3 = 7,
    ArmVgicIts = 8,
};
[[nodiscard]] std::string_view to_string(KvmDeviceType t);
[[nodiscard]] std::optional<KvmDeviceType> device_type_from_string(std::string_view name);

inline constexpr unsigned VGIC_V3_MAX_CPUS = 512;

// The parts of kvm->arch.vgic the scenarios reach.
struct Arm64Vgic {
    bool in_kernel = false;           // irqchip_in_kernel(): a vGIC was created
    bool msis_require_devid = false;  // KVM_CAP_MSI_DEVID's answer on the VM fd
    std::optional<unsigned> max_vcpus;  // kvm->max_vcpus once kvm_vgic_create() set it
};

// KVM_CREATE_DEVICE on the VM fd for a GIC device type; `test` is KVM_CREATE_DEVICE_TEST.
KvmResult kvm_ioctl_create_device(kvm& vm, Arm64Arch& arch, KvmDeviceType type, bool test);

// The vGIC's part of a vCPU's first KVM_RUN: nullopt when it may enter, else KVM_RUN's errno.
std::optional<Errno> kvm_vgic_map_resources(kvm& vm, Arm64Arch& arch);

}  // namespace kvmsim
