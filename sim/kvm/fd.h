// A file descriptor owned by the real-KVM backend, closed when it goes out of scope, and the
// raw ioctl call that reports -1/errno as the positive errno the scenario vocabulary uses.
#pragma once

#include <cerrno>
#include <sys/ioctl.h>
#include <unistd.h>
#include <utility>

namespace kvmsim::sim::kvmhost {

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    ~Fd() { reset(); }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    [[nodiscard]] int get() const { return fd_; }
    [[nodiscard]] bool valid() const { return fd_ >= 0; }

private:
    int fd_ = -1;
};

// The ioctl's return value when it succeeded, or -errno when it failed.
template <typename Arg>
long raw_ioctl(const Fd& fd, unsigned long request, Arg arg) {
    const long r = ::ioctl(fd.get(), request, arg);
    return r < 0 ? -errno : r;
}

}  // namespace kvmsim::sim::kvmhost
