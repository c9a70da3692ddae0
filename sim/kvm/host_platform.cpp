#include "host_platform.h"

#include <fcntl.h>
#include <fstream>
#include <linux/kvm.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "fd.h"
#include "model/kvm/caps.h"
#include "vcpu.h"

namespace kvmsim::sim::kvmhost {
namespace {

std::optional<char> module_param(const char* path) {
    std::ifstream in(path);
    char c = 0;
    if (!(in >> c)) return std::nullopt;
    return c;
}

// The contract's platforms are KVM modules and their paging choice: kvm_pvm runs guests
// under shadow paging; kvm_intel/kvm_amd use EPT/NPT unless the module parameter is off.
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

HostFacts read_host_facts(const Fd& kvm) {
    HostFacts f;
    f.guest_memfd_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::GuestMemfd));
    f.cpuid_maxphyaddr = guest_maxphyaddr(kvm);
    f.cpuinfo_phys_bits = cpuinfo_phys_bits();
    f.online_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    f.multi_address_space_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::MultiAddressSpace));
    return f;
}

}  // namespace

HostKvm probe_host_kvm() {
    HostKvm h;
    utsname u{};
    if (::uname(&u) == 0) h.kernel = u.release;
    const Fd kvm(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    if (!kvm.valid()) {
        h.why_not = std::string("cannot open /dev/kvm: ") + std::strerror(errno);
        return h;
    }
    const long api = raw_ioctl(kvm, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        h.why_not = "/dev/kvm reports API version " + std::to_string(api) + ", expected " + std::to_string(KVM_API_VERSION);
        return h;
    }
    const Fd vm(static_cast<int>(::ioctl(kvm.get(), KVM_CREATE_VM, 0)));
    if (!vm.valid()) {
        h.why_not = std::string("KVM_CREATE_VM failed: ") + std::strerror(errno);
        return h;
    }
    h.usable = true;
    detect_platform(h);
    h.facts = read_host_facts(kvm);
    h.description = describe_host(h.facts);
    return h;
}

}  // namespace kvmsim::sim::kvmhost
