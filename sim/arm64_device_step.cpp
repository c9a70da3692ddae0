#include "arm64_device_step.h"

#include "scenario.h"

namespace kvmsim::sim {

CreateDeviceArgs parse_create_device(const StepFields& f) {
    CreateDeviceArgs a;
    const std::string type = f.string("type");
    const auto t = device_type_from_string(type);
    // KVM_DEV_TYPE_ARM_VGIC_V2 exists only where the host GIC can emulate a GICv2
    // (kvm_vgic_global_state.can_emulate_gicv2), which no arm64 host description carries.
    if (!t)
        throw ScenarioError(f.path("type"), "expected \"KVM_DEV_TYPE_ARM_VGIC_V3\" or \"KVM_DEV_TYPE_ARM_VGIC_ITS\" (the device types modelled), got \"" + type + "\"");
    a.type = *t;
    if (f.has("flags")) {
        const std::vector<std::string> flags = f.string_list("flags");
        for (std::size_t i = 0; i < flags.size(); ++i) {
            if (flags[i] != "KVM_CREATE_DEVICE_TEST")
                throw ScenarioError(f.path("flags") + "/" + std::to_string(i), "expected \"KVM_CREATE_DEVICE_TEST\" (the only flag), got \"" + flags[i] + "\"");
            a.test = true;
        }
    }
    return a;
}

}  // namespace kvmsim::sim
