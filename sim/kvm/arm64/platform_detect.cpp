// arm64: the contract's platforms are "rme" (an RMM in firmware, realms possible) and
// "no-rme". The backend cannot make realms (no booted kernel has the CCA series), so whatever
// the host has, what it reproduces is a no-rme machine.
#include "../host_platform.h"

namespace kvmsim::sim::kvmhost {

void detect_platform(HostKvm& h) {
    h.platform = "no-rme";
    h.platform_why = "arm64 KVM without the CCA series runs normal VMs only";
}

// The x86 facts (CPUID MAXPHYADDR, host physical address bits) have no arm64 reading the model
// uses: the arm64 model takes its IPA limit from the scenario's vm.ipa_bits.
void read_arch_host_facts(const Fd&, HostFacts&) {}

}  // namespace kvmsim::sim::kvmhost
