// The host description (model/host/host_description.h) on the scenario side: what a probe of
// the machine reads and how it becomes a description, and vm.host, the fields a scenario pins
// because its outcome depends on them. The model applies the pins over the host it is compared
// with; the kvm backend skips a scenario whose pins this machine does not match.
#pragma once

#include <cstdint>
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
    long max_vcpus_cap = 1024;                      // KVM_CHECK_EXTENSION(KVM_CAP_MAX_VCPUS) on /dev/kvm
    long memory_attributes_cap = 0;                 // KVM_CHECK_EXTENSION(KVM_CAP_MEMORY_ATTRIBUTES) on /dev/kvm
    long vm_types_cap = 0;                          // KVM_CHECK_EXTENSION(KVM_CAP_VM_TYPES) on /dev/kvm (0 before 6.8)
    std::optional<bool> cpuid_la57;                 // CPUID.7.0:ECX[16] of KVM_GET_SUPPORTED_CPUID (x86)
    // arm64: a scratch vCPU's ID registers through KVM_GET_ONE_REG (sim/kvm/arm64/platform_detect.cpp).
    std::optional<std::uint64_t> id_aa64mmfr1;     // ID_AA64MMFR1_EL1
    std::optional<std::uint64_t> id_aa64isar0;     // ID_AA64ISAR0_EL1
    std::optional<std::uint64_t> dczid;            // DCZID_EL0 as the guest reads it
    std::string thp_enabled;                        // /sys/kernel/mm/transparent_hugepage/enabled ("" when absent)
};
[[nodiscard]] HostDescription describe_host(const HostFacts& facts);

struct HostPins {
    std::optional<bool> guest_memfd;
    std::optional<unsigned> guest_maxphyaddr;
    std::optional<unsigned> host_maxphyaddr;
    std::optional<unsigned> online_cpus;
    std::optional<bool> smm;
    std::optional<unsigned> max_vcpus;
    std::optional<bool> memory_attributes;
    std::optional<unsigned> vm_types;
    std::optional<bool> guest_la57;
    // arm64 CPU features (HostDescription::arm64_*): false removes one from the CPU the model is.
    std::optional<bool> hafdbs;
    std::optional<bool> lse;
    std::optional<bool> dc_zva;
    std::optional<unsigned> dczva_block;
    std::optional<ThpMode> transparent_hugepage;
};

// "always [madvise] never" (the bracketed word is the mode) -> the mode; a kernel without THP
// (no file, or an unreadable one) behaves as never.
[[nodiscard]] ThpMode parse_thp_enabled(const std::string& sysfs);
[[nodiscard]] const char* to_string(ThpMode mode);

// Reads vm.host; throws ScenarioError naming the key and what it takes.
[[nodiscard]] HostPins parse_host_pins(const nlohmann::json& obj, const std::string& path);
// `base` with every pinned field replaced.
[[nodiscard]] HostDescription pinned(HostDescription base, const HostPins& pins);
// Why a machine described by `host` cannot reproduce a scenario with these pins, or nothing.
[[nodiscard]] std::optional<std::string> pin_conflict(const HostPins& pins, const HostDescription& host);
// "guest_memfd 1, guest_maxphyaddr 48, online_cpus 2" (unset MAXPHYADDRs say "platform's").
[[nodiscard]] std::string describe(const HostDescription& host);
// The description as JSON (the qemu backends' guest sends the booted kernel's), and back;
// from_json throws nlohmann::json::exception on a malformed object.
[[nodiscard]] nlohmann::json host_to_json(const HostDescription& host);
[[nodiscard]] HostDescription host_from_json(const nlohmann::json& j);

}  // namespace kvmsim::sim
