// KVM_CREATE_DEVICE as an arm64 scenario step: { "type": "KVM_DEV_TYPE_ARM_VGIC_V3" |
// "KVM_DEV_TYPE_ARM_VGIC_ITS", "flags": ["KVM_CREATE_DEVICE_TEST"] }. Shared by the model
// backend and the kvm backend's arm64 guest, so both read the step the same way.
#pragma once

#include "fields.h"
#include "model/arm64/vgic.h"

namespace kvmsim::sim {

struct CreateDeviceArgs {
    KvmDeviceType type = KvmDeviceType::ArmVgicV3;
    bool test = false;  // KVM_CREATE_DEVICE_TEST
};

// Throws ScenarioError naming the JSON path for an unknown type or flag.
CreateDeviceArgs parse_create_device(const StepFields& f);

}  // namespace kvmsim::sim
