#include "uffd.h"

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace kvmsim::sim::kvmhost {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr int kPollMs = 50;

// A userfaultfd that also takes faults from kernel mode: KVM's get_user_pages() and its
// copy_from_user() are kernel-mode faults, which a UFFD_USER_MODE_ONLY descriptor refuses
// (handle_userfault() gives VM_FAULT_SIGBUS), so such a descriptor cannot show what the model
// describes. Unprivileged callers get one only when vm.unprivileged_userfaultfd is 1
// (userfaultfd_syscall_allowed(), fs/userfaultfd.c), or through /dev/userfaultfd.
int open_uffd(std::optional<std::string>& skip) {
    const long fd = ::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) return static_cast<int>(fd);
    const int e = errno;
    if (e == ENOSYS) {
        skip = "this kernel has no userfaultfd (CONFIG_USERFAULTFD off: ENOSYS)";
    } else if (e == EPERM) {
        std::ifstream f("/proc/sys/vm/unprivileged_userfaultfd");
        std::string v;
        f >> v;
        skip = "userfaultfd(2) refused (EPERM): vm.unprivileged_userfaultfd is " + (v.empty() ? std::string("unreadable") : v) +
               " and this process lacks CAP_SYS_PTRACE; only UFFD_USER_MODE_ONLY would be allowed, which cannot see KVM's "
               "kernel-mode faults";
    } else {
        skip = std::string("userfaultfd(2) failed: ") + std::strerror(e);
    }
    return -1;
}

}  // namespace

int UffdHandler::start(std::uint64_t real, std::uint64_t size, UffdAnswer answer, std::optional<std::string>& skip) {
    stop();
    fd_ = open_uffd(skip);
    if (fd_ < 0) return 0;
    uffdio_api api{};
    api.api = UFFD_API;
    if (::ioctl(fd_, UFFDIO_API, &api) != 0) {
        skip = std::string("UFFDIO_API failed: ") + std::strerror(errno);
        stop();
        return 0;
    }
    uffdio_register reg{};
    reg.range.start = real;
    reg.range.len = size;
    reg.mode = UFFDIO_REGISTER_MODE_MISSING;
    if (::ioctl(fd_, UFFDIO_REGISTER, &reg) != 0) {
        const int e = errno;
        stop();
        return e;
    }
    answer_ = std::move(answer);
    if (answer_.source.size() < kPage) answer_.source.resize(kPage, 0);
    start_ = real;
    size_ = size;
    stop_ = false;
    thread_ = std::thread([this] { serve(); });
    return 0;
}

void UffdHandler::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    // Closing the descriptor unregisters the range and wakes any fault still waiting
    // (userfaultfd_release()): it retries as a plain fault.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void UffdHandler::serve() {
    while (!stop_) {
        pollfd p{fd_, POLLIN, 0};
        const int n = ::poll(&p, 1, kPollMs);
        if (n <= 0 || !(p.revents & POLLIN)) continue;
        uffd_msg msg{};
        if (::read(fd_, &msg, sizeof msg) != static_cast<ssize_t>(sizeof msg)) continue;
        if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
        ++faults_;
        const std::uint64_t page = msg.arg.pagefault.address & ~(kPage - 1);
        if (!answered(page)) {
            ++failures_;
            uffdio_range w{page, kPage};
            (void)::ioctl(fd_, UFFDIO_WAKE, &w);
        }
    }
}

// The page's source bytes: the whole-range buffer at the page's offset, or the one page.
bool UffdHandler::answered(std::uint64_t page) {
    const bool per_range_source = answer_.source.size() == size_ && size_ > kPage;
    auto src = [&](std::uint64_t at) { return reinterpret_cast<std::uint64_t>(answer_.source.data() + (per_range_source ? at - start_ : 0)); };
    auto fill = [&](std::uint64_t dst, std::uint64_t len, std::uint64_t& done) {
        done = 0;
        if (answer_.zeropage) {
            uffdio_zeropage z{};
            z.range = {dst, len};
            const int r = ::ioctl(fd_, UFFDIO_ZEROPAGE, &z);
            if (z.zeropage > 0) done = static_cast<std::uint64_t>(z.zeropage);
            return r == 0 ? 0 : errno;
        }
        uffdio_copy c{};
        c.dst = dst;
        c.src = src(dst);
        c.len = len;
        const int r = ::ioctl(fd_, UFFDIO_COPY, &c);
        if (c.copy > 0) done = static_cast<std::uint64_t>(c.copy);
        return r == 0 ? 0 : errno;
    };
    std::uint64_t done = 0;
    if (answer_.whole_range) {
        // From the range's start: a partial copy (EAGAIN) stopped at a page already present
        // (mfill_atomic()'s EEXIST); the faulting page may lie beyond it.
        const int e = fill(start_, size_, done);
        if (e == 0 || (page >= start_ && page < start_ + done)) return true;
        if (e != EAGAIN && e != EEXIST) return false;
    }
    // EEXIST: the page came some other way meanwhile; the waiter was woken regardless.
    const int e = fill(page, kPage, done);
    return e == 0 || e == EEXIST;
}

}  // namespace kvmsim::sim::kvmhost
