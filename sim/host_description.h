// The host description (model/host/host_description.h) on the scenario side: what a probe of
// the machine reads and how it becomes a description, and vm.host, the fields a scenario pins
// because its outcome depends on them. The model applies the pins over the host it is compared
// with; the kvm backend skips a scenario whose pins this machine does not match.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "model/host/host_description.h"

namespace kvmsim::sim {

// What the kvm backend reads from the machine (sim/kvm/host_platform.cpp); a test fakes it.
struct HostFacts {
    long guest_memfd_cap = 0;                       // KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD) on /dev/kvm
    unsigned cpuid_maxphyaddr = 36;                 // CPUID.80000008H:EAX[7:0] of KVM_GET_SUPPORTED_CPUID
    std::optional<unsigned> cpuinfo_phys_bits;      // "address sizes: N bits physical" in /proc/cpuinfo
    long online_cpus = 1;                           // sysconf(_SC_NPROCESSORS_ONLN)
    long multi_address_space_cap = 0;               // KVM_CHECK_EXTENSION(KVM_CAP_MULTI_ADDRESS_SPACE) on /dev/kvm
};
[[nodiscard]] HostDescription describe_host(const HostFacts& facts);

struct HostPins {
    std::optional<bool> guest_memfd;
    std::optional<unsigned> guest_maxphyaddr;
    std::optional<unsigned> host_maxphyaddr;
    std::optional<unsigned> online_cpus;
    std::optional<bool> smm;
};

// Reads vm.host; throws ScenarioError naming the key and what it takes.
[[nodiscard]] HostPins parse_host_pins(const nlohmann::json& obj, const std::string& path);
// `base` with every pinned field replaced.
[[nodiscard]] HostDescription pinned(HostDescription base, const HostPins& pins);
// Why a machine described by `host` cannot reproduce a scenario with these pins, or nothing.
[[nodiscard]] std::optional<std::string> pin_conflict(const HostPins& pins, const HostDescription& host);
// "guest_memfd 1, guest_maxphyaddr 48, online_cpus 2" (unset MAXPHYADDRs say "platform's").
[[nodiscard]] std::string describe(const HostDescription& host);

}  // namespace kvmsim::sim
