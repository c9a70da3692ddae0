// What the machine running kvmsim offers: a usable /dev/kvm, and the contract platform its KVM
// makes of a guest (x86: pvm, vmx, vmx-shadow, svm, read from sysfs; arm64: no-rme).
#pragma once

#include <optional>
#include <string>

namespace kvmsim::sim::kvmhost {

struct HostKvm {
    bool usable = false;
    std::string why_not;      // set when !usable
    std::string platform;     // contract platform name, when usable
    std::string platform_why; // the evidence, e.g. "/sys/module/kvm_pvm is loaded"
    std::string kernel;       // uname -r
};

// Sets h.platform and h.platform_why for this architecture (sim/kvm/x86/, sim/kvm/arm64/).
void detect_platform(HostKvm& h);

// Opens /dev/kvm, checks KVM_GET_API_VERSION and detects the platform.
HostKvm probe_host_kvm();

}  // namespace kvmsim::sim::kvmhost
