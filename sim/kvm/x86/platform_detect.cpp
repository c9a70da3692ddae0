// x86_64: the contract's platforms are KVM modules and their paging choice.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "../host_platform.h"
#include "vcpu.h"

namespace kvmsim::sim::kvmhost {
namespace {

std::optional<char> module_param(const char* path) {
    std::ifstream in(path);
    char c = 0;
    if (!(in >> c)) return std::nullopt;
    return c;
}

// boot_cpu_data.x86_phys_bits as /proc/cpuinfo prints it ("address sizes : 46 bits physical, ...").
std::optional<unsigned> cpuinfo_phys_bits() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("address sizes", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon == std::string::npos) return std::nullopt;
        unsigned bits = 0;
        if (std::sscanf(line.c_str() + colon + 1, " %u bits physical", &bits) == 1 && bits >= 32 && bits <= 52) return bits;
        return std::nullopt;
    }
    return std::nullopt;
}

}  // namespace

void read_arch_host_facts(const Fd& kvm, HostFacts& f) {
    f.cpuid_maxphyaddr = guest_maxphyaddr(kvm);
    f.cpuinfo_phys_bits = cpuinfo_phys_bits();
    f.cpuid_la57 = guest_la57(kvm);
}

// kvm_pvm runs guests under shadow paging; kvm_intel/kvm_amd use EPT/NPT unless the module
// parameter is off.
void detect_platform(HostKvm& h) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists("/sys/module/kvm_pvm", ec)) {
        h.platform = "pvm";
        h.platform_why = "/sys/module/kvm_pvm is loaded";
    } else if (fs::exists("/sys/module/kvm_intel", ec)) {
        const auto ept = module_param("/sys/module/kvm_intel/parameters/ept");
        h.platform = ept && (*ept == 'N' || *ept == '0') ? "vmx-shadow" : "vmx";
        h.platform_why = std::string("/sys/module/kvm_intel is loaded, ept=") + (ept ? std::string(1, *ept) : "?");
    } else if (fs::exists("/sys/module/kvm_amd", ec)) {
        h.platform = "svm";
        h.platform_why = "/sys/module/kvm_amd is loaded";
    } else {
        h.platform = "pvm";
        h.platform_why = "no vendor module found in /sys/module; assuming pvm";
    }
}

}  // namespace kvmsim::sim::kvmhost
