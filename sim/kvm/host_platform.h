// What the machine running kvmsim offers: a usable /dev/kvm, and the contract platform
// (pvm, vmx, vmx-shadow, svm; no-rme on arm64) its KVM module makes of a guest, read from sysfs.
#pragma once

#include <optional>
#include <string>

#include "fd.h"
#include "sim/host_description.h"

namespace kvmsim::sim::kvmhost {

struct HostKvm {
    bool usable = false;
    std::string why_not;      // set when !usable
    std::string platform;     // contract platform name, when usable
    std::string platform_why; // the evidence, e.g. "/sys/module/kvm_pvm is loaded"
    std::string kernel;       // uname -r
    HostFacts facts;          // what the probe read, when usable
    HostDescription description;  // describe_host(facts): what the model is told about this host
};

// Sets h.platform and h.platform_why for this architecture (sim/kvm/x86/, sim/kvm/arm64/).
void detect_platform(HostKvm& h);
// Fills the facts only this architecture can read (x86: CPUID's MAXPHYADDR, /proc/cpuinfo's
// physical address bits); sim/kvm/x86/, sim/kvm/arm64/.
void read_arch_host_facts(const Fd& kvm, HostFacts& f);

// Opens /dev/kvm, checks KVM_GET_API_VERSION, detects the platform and describes the host.
HostKvm probe_host_kvm();

}  // namespace kvmsim::sim::kvmhost
