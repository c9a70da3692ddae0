#include "platform.h"

namespace kvmsim {

// Both platforms are an Armv9 server-class host with a 48-bit PARange, 6 breakpoints and 4
// watchpoints (the Neoverse figures), 8 CPUs and a GICv3 (512 vCPUs). "rme" adds RME
// hardware with an RMM whose realms also get 48 IPA bits.
Arm64HostOptions arm64_host_options(Arm64Platform p) {
    return Arm64HostOptions{.ipa_limit = 48,
                            .rmm_present = p == Arm64Platform::Rme,
                            .realm_ipa_limit = 48,
                            .hw_bps = 6,
                            .hw_wps = 4,
                            .online_cpus = 8,
                            .default_max_vcpus = 512};
}

std::optional<Arm64Platform> arm64_platform_from_string(std::string_view name) {
    if (name == "rme") return Arm64Platform::Rme;
    if (name == "no-rme") return Arm64Platform::NoRme;
    return std::nullopt;
}

std::string_view to_string(Arm64Platform p) { return p == Arm64Platform::Rme ? "rme" : "no-rme"; }

}  // namespace kvmsim
