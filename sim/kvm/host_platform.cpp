#include "host_platform.h"

#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/utsname.h>

#include <cstring>

#include "fd.h"

namespace kvmsim::sim::kvmhost {
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
    return h;
}

}  // namespace kvmsim::sim::kvmhost
