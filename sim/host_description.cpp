#include "host_description.h"

#include "scenario.h"
#include "value.h"

namespace kvmsim::sim {
namespace {

unsigned bounded(const nlohmann::json& v, const std::string& path, std::uint64_t lo, std::uint64_t hi) {
    const std::uint64_t n = parse_number(v, path, hi);
    if (n < lo) throw ScenarioError(path, "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + v.dump());
    return static_cast<unsigned>(n);
}

std::string maybe(const std::optional<unsigned>& v) { return v ? std::to_string(*v) : std::string("the platform's"); }

}  // namespace

HostDescription describe_host(const HostFacts& f) {
    HostDescription h;
    h.guest_memfd = f.guest_memfd_cap > 0;
    h.guest_maxphyaddr = f.cpuid_maxphyaddr;
    h.host_maxphyaddr = f.cpuinfo_phys_bits;
    h.online_cpus = f.online_cpus > 0 ? static_cast<unsigned>(f.online_cpus) : 1;
    // Without a VM the cap answers KVM_MAX_NR_ADDRESS_SPACES, compiled in only with CONFIG_KVM_SMM.
    h.kvm_smm = f.multi_address_space_cap >= 2;
    return h;
}

HostPins parse_host_pins(const nlohmann::json& obj, const std::string& path) {
    if (!obj.is_object()) throw ScenarioError(path, "expected an object with guest_memfd, guest_maxphyaddr, host_maxphyaddr, online_cpus or smm");
    HostPins p;
    for (const auto& [key, v] : obj.items()) {
        const std::string at = path + "/" + key;
        if (key == "guest_memfd") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the kernel was built with CONFIG_KVM_GUEST_MEMFD)");
            p.guest_memfd = v.get<bool>();
        } else if (key == "guest_maxphyaddr") {
            p.guest_maxphyaddr = bounded(v, at, 32, 52);
        } else if (key == "host_maxphyaddr") {
            p.host_maxphyaddr = bounded(v, at, 32, 52);
        } else if (key == "online_cpus") {
            p.online_cpus = bounded(v, at, 1, 65536);
        } else if (key == "smm") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the kernel was built with CONFIG_KVM_SMM)");
            p.smm = v.get<bool>();
        } else {
            throw ScenarioError(at, "unknown key (expected guest_memfd, guest_maxphyaddr, host_maxphyaddr, online_cpus or smm)");
        }
    }
    return p;
}

HostDescription pinned(HostDescription base, const HostPins& pins) {
    if (pins.guest_memfd) base.guest_memfd = *pins.guest_memfd;
    if (pins.guest_maxphyaddr) base.guest_maxphyaddr = pins.guest_maxphyaddr;
    if (pins.host_maxphyaddr) base.host_maxphyaddr = pins.host_maxphyaddr;
    if (pins.online_cpus) base.online_cpus = *pins.online_cpus;
    if (pins.smm) base.kvm_smm = pins.smm;
    return base;
}

std::optional<std::string> pin_conflict(const HostPins& pins, const HostDescription& host) {
    std::string why;
    auto differs = [&](const char* key, const std::string& want, const std::string& have) {
        if (want == have) return;
        why += std::string(why.empty() ? "" : ", ") + key + " " + want + " (this host: " + have + ")";
    };
    if (pins.guest_memfd) differs("guest_memfd", *pins.guest_memfd ? "1" : "0", host.guest_memfd ? "1" : "0");
    if (pins.guest_maxphyaddr) differs("guest_maxphyaddr", std::to_string(*pins.guest_maxphyaddr), maybe(host.guest_maxphyaddr));
    if (pins.host_maxphyaddr) differs("host_maxphyaddr", std::to_string(*pins.host_maxphyaddr), maybe(host.host_maxphyaddr));
    if (pins.online_cpus) differs("online_cpus", std::to_string(*pins.online_cpus), std::to_string(host.online_cpus));
    if (pins.smm) differs("smm", *pins.smm ? "1" : "0", host.kvm_smm ? (*host.kvm_smm ? "1" : "0") : "the platform's");
    if (why.empty()) return std::nullopt;
    return "the scenario pins vm.host " + why;
}

std::string describe(const HostDescription& host) {
    return "guest_memfd " + std::string(host.guest_memfd ? "1" : "0") + ", guest_maxphyaddr " + maybe(host.guest_maxphyaddr) + ", host_maxphyaddr " +
           maybe(host.host_maxphyaddr) + ", online_cpus " + std::to_string(host.online_cpus) + ", smm " +
           (host.kvm_smm ? (*host.kvm_smm ? "1" : "0") : "the platform's");
}

}  // namespace kvmsim::sim
