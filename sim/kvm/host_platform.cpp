#include "host_platform.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "model/kvm/caps.h"

namespace kvmsim::sim::kvmhost {
namespace {

HostFacts read_host_facts(const Fd& kvm) {
    HostFacts f;
    f.guest_memfd_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::GuestMemfd));
    f.online_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
    f.multi_address_space_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::MultiAddressSpace));
    f.max_vcpus_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::MaxVcpus));
    f.memory_attributes_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::MemoryAttributes));
    f.vm_types_cap = raw_ioctl(kvm, KVM_CHECK_EXTENSION, static_cast<unsigned long>(Cap::VmTypes));
    std::ifstream thp("/sys/kernel/mm/transparent_hugepage/enabled");
    std::ostringstream text;
    if (thp) text << thp.rdbuf();
    f.thp_enabled = text.str();
    read_arch_host_facts(kvm, f);
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
