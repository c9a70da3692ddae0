// Replays KVM_SET_USER_MEMORY_REGION / KVM_GET_DIRTY_LOG / KVM_CHECK_EXTENSION sequences on the
// real /dev/kvm and on the model (mainline, pvm, told this machine's host description) and checks
// they agree call for call. Skips (exit 77) with a message where /dev/kvm cannot be used.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "model/kvm/kvm.h"
#include "model/x86/x86_arch.h"
#include "sim/kvm/host_platform.h"

using kvmsim::Cap;
using kvmsim::KvmResult;

namespace {

struct Call {
    const char* what;
    std::uint32_t slot;
    std::uint32_t flags;
    std::uint64_t gpa;
    std::uint64_t size;
    long uaddr_off;  // offset from the test mapping, or an absolute address when absolute is set
    bool absolute = false;
};

constexpr std::uint64_t P = 4096;

// The cases follow the reference's M table (shared/reference/generic-and-x86.md, section 9.3).
const std::vector<Call> kCalls = {
    {"bit 2 flag", 0, 1u << 2, 0, 16 * P, 0},
    {"bit 3 flag", 0, 1u << 3, 0, 16 * P, 0},
    {"bit 16 flag", 0, 1u << 16, 0, 16 * P, 0},
    {"readonly create", 0, 2, 0, 16 * P, 0},
    {"readonly delete", 0, 0, 0, 0, 0},
    {"slot 32764", 32764, 0, 0, P, 0},
    {"slot 32763 create", 32763, 0, 0, P, 0},
    {"slot 32763 delete", 32763, 0, 0, 0, 0},
    {"as_id 1", 1u << 16, 0, 0, P, 0},
    {"size 4097", 0, 0, 0, 4097, 0},
    {"gpa 0x1001", 0, 0, 0x1001, P, 0},
    {"uaddr +1", 0, 0, 0, P, 1},
    {"uaddr 0x7ffffffff000", 0, 0, 0, P, 0x7ffffffff000L, true},
    {"uaddr 0x7fffffffe000", 0, 0, 0, P, 0x7fffffffe000L, true},
    {"uaddr 0x7fffffffe000 delete", 0, 0, 0, 0, 0},
    {"gpa wrap", 0, 0, 0xfffffffffffff000ULL, 2 * P, 0},
    {"gpa 2^52", 0, 0, 1ULL << 52, P, 0},
    {"gpa 2^52 - 4K", 0, 0, (1ULL << 52) - P, P, 0},
    {"delete it", 0, 0, 0, 0, 0},
    {"2^31 pages", 0, 0, 0, (1ULL << 31) * P, 0x100000000L, true},
    {"delete absent", 5, 0, 0, 0, 0},
    {"slot 1", 1, 0, 0x100000, 16 * P, 0},
    {"overlap tail", 2, 0, 0x10f000, 16 * P, 0},
    {"overlap head", 2, 0, 0xf1000, 16 * P, 0},
    {"adjacent after", 2, 0, 0x110000, 16 * P, 0},
    {"alias hva", 4, 0, 0x200000, 16 * P, 0},
    {"identical", 1, 0, 0x100000, 16 * P, 0},
    {"resize", 1, 0, 0x100000, 8 * P, 0},
    {"new uaddr", 1, 0, 0x100000, 16 * P, 16 * P},
    {"set readonly", 1, 2, 0x100000, 16 * P, 0},
    {"log dirty on", 1, 1, 0x100000, 16 * P, 0},
    {"move", 1, 1, 0x300000, 16 * P, 0},
    {"move onto slot 2", 1, 1, 0x110000, 16 * P, 0},
    {"move overlapping itself", 1, 1, 0x304000, 16 * P, 0},
};

}  // namespace

int main() {
    const int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0) {
        std::printf("SKIP: /dev/kvm not usable here (%s)\n", std::strerror(errno));
        return 77;
    }
    const int vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm_fd < 0) {
        std::printf("SKIP: KVM_CREATE_VM failed (%s)\n", std::strerror(errno));
        return 77;
    }
    void* ua = mmap(nullptr, 64 * P, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ua == MAP_FAILED) return 1;

    // KVM_CAP_GUEST_MEMFD, KVM_CAP_NR_VCPUS and the MAXPHYADDRs differ between machines.
    const kvmsim::sim::kvmhost::HostKvm host = kvmsim::sim::kvmhost::probe_host_kvm();
    std::printf("host: %s\n", kvmsim::sim::describe(host.description).c_str());
    kvmsim::HostMm mm;
    (void)mm.mmap(kvmsim::Hva(reinterpret_cast<std::uint64_t>(ua)), 64 * P, kvmsim::Prot{true, true, false}, kvmsim::MappingKind::Anonymous, "ua");
    const kvmsim::Platform platform = kvmsim::platform_from_string(host.platform).value_or(kvmsim::Platform::Pvm);
    kvmsim::kvm model(mm, *kvmsim::find_profile("mainline"),
                      std::make_unique<kvmsim::X86Arch>(platform, kvmsim::VmType::Default, host.description));

    int passed = 0, failed = 0;
    auto check = [&](const char* what, long real_ret, int real_errno, const KvmResult& m) {
        const bool same = real_ret < 0 ? (!m.is_ok() && static_cast<int>(*m.err()) == real_errno) : (m.is_ok() && m.value() == real_ret);
        if (same) {
            ++passed;
            return;
        }
        ++failed;
        std::printf("DIFF %s: kernel %ld%s%s, model %ld%s%s\n", what, real_ret, real_ret < 0 ? " " : "", real_ret < 0 ? std::strerror(real_errno) : "",
                    m.value(), m.is_ok() ? "" : " ", m.is_ok() ? "" : std::string(kvmsim::to_string(*m.err())).c_str());
    };

    for (const Call& c : kCalls) {
        ::kvm_userspace_memory_region r{};
        r.slot = c.slot;
        r.flags = c.flags;
        r.guest_phys_addr = c.gpa;
        r.memory_size = c.size;
        r.userspace_addr = c.absolute ? static_cast<std::uint64_t>(c.uaddr_off) : reinterpret_cast<std::uint64_t>(ua) + c.uaddr_off;
        errno = 0;
        const long ret = ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r);
        check(c.what, ret, errno, model.set_user_memory_region(kvmsim::kvm_userspace_memory_region{r.slot, r.flags, r.guest_phys_addr, r.memory_size, r.userspace_addr}));
    }
    for (std::uint32_t slot : {1u, 2u, 5u, 32764u, 2u << 16}) {
        std::vector<std::uint64_t> bitmap(64);
        ::kvm_dirty_log log{};
        log.slot = slot;
        log.dirty_bitmap = bitmap.data();
        errno = 0;
        const long ret = ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log);
        check("KVM_GET_DIRTY_LOG", ret, errno, model.get_dirty_log(slot).result);
    }
    // Every capability the model answers, numbers 0 to a few past 6.18's last, on both fds.
    int caps = 0;
    for (std::uint32_t n = 0; n <= kvmsim::kLastUapiCap + 4; ++n) {
        const auto cap = static_cast<Cap>(n);
        if (!kvmsim::x86_cap_modelled(cap)) continue;
        ++caps;
        for (const auto on : {kvmsim::CheckOn::VmFd, kvmsim::CheckOn::SystemFd}) {
            errno = 0;
            const long ret = ioctl(on == kvmsim::CheckOn::VmFd ? vm_fd : kvm_fd, KVM_CHECK_EXTENSION, static_cast<long>(n));
            const std::string what = "KVM_CHECK_EXTENSION " + kvmsim::to_string(cap) + (on == kvmsim::CheckOn::VmFd ? " (VM fd)" : " (/dev/kvm)");
            check(what.c_str(), ret, errno, KvmResult::ok(model.check_extension(cap, on).value()));
        }
    }
    std::printf("%d capabilities compared on both fds\n", caps);
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
