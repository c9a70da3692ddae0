#include "host_layout.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string>
#include <cerrno>

#include "../fields.h"

namespace kvmsim::sim::kvmhost {
namespace {

constexpr std::uint64_t kPage = 4096;
constexpr std::uint64_t kAlign = 1ull << 30;
constexpr std::uint64_t kMaxSpan = 1ull << 40;  // a TiB of address space, reserved PROT_NONE

int to_prot(std::uint32_t bits) { return ((bits & 1) ? PROT_READ : 0) | ((bits & 2) ? PROT_WRITE : 0) | ((bits & 4) ? PROT_EXEC : 0); }

int map_flags(const std::vector<std::string>& flags) {
    const bool shared = std::find(flags.begin(), flags.end(), "shared") != flags.end();
    const bool hugetlb = std::find(flags.begin(), flags.end(), "hugetlb") != flags.end();
    return (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | (hugetlb ? MAP_HUGETLB : 0);
}

}  // namespace

std::optional<std::string> HostLayout::place(const Scenario& s) {
    release();
    std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges;
    for (const auto& m : s.mmaps) ranges.emplace_back(m.hva, m.size);
    for (const Step& st : s.steps)
        if (st.op == "host_mmap") {
            const StepFields f(st, s);
            ranges.emplace_back(f.u64("hva"), f.u64("size"));
        }
    if (ranges.empty()) return std::nullopt;
    lo_ = ~std::uint64_t{0};
    hi_ = 0;
    for (auto [hva, size] : ranges) {
        if (hva + size < hva) return "host mapping at " + hex(hva) + " wraps the address space";
        lo_ = std::min(lo_, hva & ~(kPage - 1));
        hi_ = std::max(hi_, (hva + size + kPage - 1) & ~(kPage - 1));
    }
    if (hi_ <= lo_) hi_ = lo_ + kPage;
    const std::uint64_t len = hi_ - lo_;
    if (len > kMaxSpan) return "host mappings span " + hex(len) + " bytes, more than the backend reserves (1 TiB)";

    // The scenario's own addresses, if nothing of this process is there.
    void* at = ::mmap(reinterpret_cast<void*>(lo_), len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
    if (at == reinterpret_cast<void*>(lo_)) {
        delta_ = 0;
    } else {
        if (at != MAP_FAILED) ::munmap(at, len);
        void* r = ::mmap(nullptr, len + kAlign, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (r == MAP_FAILED) return "cannot reserve " + hex(len) + " bytes of address space for the host mappings";
        const auto base = reinterpret_cast<std::uint64_t>(r);
        std::uint64_t real = (base & ~(kAlign - 1)) + (lo_ & (kAlign - 1));
        if (real < base) real += kAlign;
        delta_ = static_cast<std::int64_t>(real - lo_);
        at = reinterpret_cast<void*>(real);
        ::munmap(r, len + kAlign);
    }
    // The span is free now; only what the scenario maps will be there.
    ::munmap(at, len);
    mem_fd_ = ::open("/proc/self/mem", O_RDWR | O_CLOEXEC);
    for (std::size_t i = 0; i < s.mmaps.size(); ++i) {
        const HostMapping& m = s.mmaps[i];
        if (const int e = mmap(m.hva, m.size, parse_prot(m.prot, "/host/mmap/" + std::to_string(i) + "/prot"), m.flags, m.name)) {
            // MAP_HUGETLB reserves its huge pages at mmap() time (hugetlb_reserve_pages()).
            if (e == ENOMEM && std::find(m.flags.begin(), m.flags.end(), "hugetlb") != m.flags.end())
                return "the hugetlb mapping \"" + m.name + "\" needs " + std::to_string(m.size >> 21) +
                       " reserved 2M huge pages, and this kernel has too few (/proc/sys/vm/nr_hugepages; the backend does not change it)";
            return "mmap of host mapping \"" + m.name + "\" failed: errno " + std::to_string(e);
        }
    }
    return std::nullopt;
}

void HostLayout::release() {
    for (auto [a, b] : mapped_) ::munmap(reinterpret_cast<void*>(a), b - a);
    mapped_.clear();
    if (mem_fd_ >= 0) ::close(mem_fd_);
    mem_fd_ = -1;
    for (auto& [name, fd] : memfds_) ::close(fd);
    memfds_.clear();
    lo_ = hi_ = 0;
    delta_ = 0;
}

bool HostLayout::in_span(std::uint64_t hva, std::uint64_t len) const { return hva >= lo_ && hva <= hi_ && len <= hi_ - hva; }

bool HostLayout::nothing_mapped(std::uint64_t start, std::uint64_t len) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
        std::uint64_t lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%" SCNx64 "-%" SCNx64, &lo, &hi) != 2) return false;
        if (lo < start + len && hi > start) return false;
    }
    return true;
}

bool HostLayout::only_span_or_unmapped(std::uint64_t start, std::uint64_t len) const {
    const std::uint64_t end = start + len;
    const std::uint64_t real_lo = lo_ + static_cast<std::uint64_t>(delta_), real_hi = hi_ + static_cast<std::uint64_t>(delta_);
    const bool below = start >= real_lo || nothing_mapped(start, std::min(end, real_lo) - start);
    const bool above = end <= real_hi || nothing_mapped(std::max(start, real_hi), end - std::max(start, real_hi));
    return below && above;
}

std::uint64_t HostLayout::to_real(std::uint64_t hva) const {
    return hva >= lo_ && hva < hi_ ? hva + static_cast<std::uint64_t>(delta_) : hva;
}

std::uint64_t HostLayout::to_scenario(std::uint64_t real) const {
    const std::uint64_t s = real - static_cast<std::uint64_t>(delta_);
    return s >= lo_ && s < hi_ ? s : real;
}

bool HostLayout::owns(std::uint64_t hva, std::uint64_t len) const {
    if (!in_span(hva, len)) return false;
    std::uint64_t at = to_real(hva);
    const std::uint64_t end = at + len;
    while (at < end) {
        const auto it = std::find_if(mapped_.begin(), mapped_.end(), [&](const auto& m) { return m.first <= at && at < m.second; });
        if (it == mapped_.end()) return false;
        at = it->second;
    }
    return true;
}

void HostLayout::track(std::uint64_t real, std::uint64_t size) { mapped_.emplace_back(real, real + size); }

void HostLayout::untrack(std::uint64_t real, std::uint64_t size) {
    const std::uint64_t end = real + size;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> kept;
    for (auto [a, b] : mapped_) {
        if (b <= real || a >= end) {
            kept.emplace_back(a, b);
            continue;
        }
        if (a < real) kept.emplace_back(a, real);
        if (b > end) kept.emplace_back(end, b);
    }
    mapped_ = std::move(kept);
}

int HostLayout::mmap(std::uint64_t hva, std::uint64_t size, std::uint32_t prot_bits, const std::vector<std::string>& flags, const std::string& name) {
    if (!in_span(hva, size)) return EINVAL;
    const std::uint64_t real = to_real(hva);
    int fd = -1;
    int mflags = map_flags(flags);
    if (std::find(flags.begin(), flags.end(), "memfd") != flags.end()) {
        // A memfd of the mapping's size (shmem): MAP_SHARED of it is what fallocate() reaches.
        fd = ::memfd_create(("kvmsim-" + name).c_str(), MFD_CLOEXEC);
        if (fd < 0) return errno;
        if (::ftruncate(fd, static_cast<off_t>((size + kPage - 1) & ~(kPage - 1))) != 0) {
            const int e = errno;
            ::close(fd);
            return e;
        }
        mflags = MAP_SHARED;
    }
    void* at = ::mmap(reinterpret_cast<void*>(real), size, to_prot(prot_bits), mflags | MAP_FIXED_NOREPLACE, fd, 0);
    if (at == MAP_FAILED) {
        const int e = errno;
        if (fd >= 0) ::close(fd);
        return e;
    }
    if (fd >= 0) {
        if (auto it = memfds_.find(name); it != memfds_.end()) ::close(it->second);
        memfds_[name] = fd;
    }
    if (at != reinterpret_cast<void*>(real)) {  // a kernel without MAP_FIXED_NOREPLACE treats it as a hint
        ::munmap(at, size);
        return EEXIST;
    }
    track(real, (size + kPage - 1) & ~(kPage - 1));
    return 0;
}

int HostLayout::munmap(std::uint64_t hva, std::uint64_t size) {
    const std::uint64_t real = to_real(hva);
    if (::munmap(reinterpret_cast<void*>(real), size) != 0) return errno;
    untrack(real, (size + kPage - 1) & ~(kPage - 1));
    return 0;
}

int HostLayout::mprotect(std::uint64_t hva, std::uint64_t size, std::uint32_t prot_bits) {
    return ::mprotect(reinterpret_cast<void*>(to_real(hva)), size, to_prot(prot_bits)) == 0 ? 0 : errno;
}

namespace {
volatile sig_atomic_t g_poison_sigbus = 0;
void on_poison_sigbus(int) { g_poison_sigbus = 1; }
}  // namespace

int HostLayout::madvise_hwpoison(std::uint64_t hva, bool& sigbus) {
    // The signal is sent from inside the syscall and delivered on its return, so a handler that
    // only records it resumes right after madvise().
    struct sigaction sa {}, old {};
    sa.sa_handler = on_poison_sigbus;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &old);
    g_poison_sigbus = 0;
    const int r = ::madvise(reinterpret_cast<void*>(to_real(hva) & ~(kPage - 1)), kPage, MADV_HWPOISON) == 0 ? 0 : errno;
    ::sigaction(SIGBUS, &old, nullptr);
    sigbus = g_poison_sigbus != 0;
    return r;
}

int HostLayout::madvise_dontneed(std::uint64_t hva, std::uint64_t size) {
    return ::madvise(reinterpret_cast<void*>(to_real(hva)), size, MADV_DONTNEED) == 0 ? 0 : errno;
}

int HostLayout::fallocate(const std::string& name, int mode, std::uint64_t offset, std::uint64_t len) {
    const auto it = memfds_.find(name);
    if (it == memfds_.end()) return EBADF;
    // loff_t arguments: the model's EINVAL for a value past 2^63 is the kernel's for a negative one.
    return ::fallocate(it->second, mode, static_cast<off_t>(offset), static_cast<off_t>(len)) == 0 ? 0 : errno;
}

int HostLayout::access(std::uint64_t hva, void* buf, std::size_t len, bool write) {
    if (mem_fd_ < 0) return EFAULT;
    const auto off = static_cast<off_t>(to_real(hva));
    const ssize_t n = write ? ::pwrite(mem_fd_, buf, len, off) : ::pread(mem_fd_, buf, len, off);
    // /proc/PID/mem says EIO where the model's access_remote() says EFAULT: no page there.
    return n == static_cast<ssize_t>(len) ? 0 : EFAULT;
}

}  // namespace kvmsim::sim::kvmhost
