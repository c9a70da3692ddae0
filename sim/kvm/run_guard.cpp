#include "run_guard.h"

#include <linux/kvm.h>
#include <sys/time.h>

#include <atomic>
#include <cerrno>
#include <utility>
#include <vector>

namespace kvmsim::sim::kvmhost {
namespace {

// Headers older than the running kernel lack these (UAPI values, include/uapi/linux/kvm.h).
constexpr std::uint32_t kExitArmNisv = 28;
constexpr std::uint32_t kExitMemoryFault = 39;

std::atomic<std::uint64_t> g_sigbus_addr{0};
std::atomic<bool> g_sigbus{false};
void on_sigbus(int, siginfo_t* info, void*) {
    g_sigbus_addr.store(reinterpret_cast<std::uint64_t>(info->si_addr));
    g_sigbus.store(true);
}

std::atomic<bool> g_alarm{false};
void on_alarm(int) { g_alarm.store(true); }

}  // namespace

RunTimer::RunTimer() {
    struct sigaction sa {};
    sa.sa_handler = on_alarm;  // no SA_RESTART: KVM_RUN returns -EINTR
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGALRM, &sa, &old_);
    g_alarm.store(false);
    itimerval t{};
    t.it_value.tv_sec = kRunTimeoutSeconds;
    ::setitimer(ITIMER_REAL, &t, nullptr);
}

RunTimer::~RunTimer() {
    itimerval off{};
    ::setitimer(ITIMER_REAL, &off, nullptr);
    ::sigaction(SIGALRM, &old_, nullptr);
}

bool RunTimer::fired() { return g_alarm.load(); }

SigbusCatcher::SigbusCatcher() {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &old_);
    g_sigbus.store(false);
}

SigbusCatcher::~SigbusCatcher() { ::sigaction(SIGBUS, &old_, nullptr); }

bool SigbusCatcher::caught() { return g_sigbus.load(); }
std::uint64_t SigbusCatcher::address() { return g_sigbus_addr.load(); }

std::string exit_name(std::uint32_t reason) {
    static const std::vector<std::pair<std::uint32_t, const char*>> names = {
        {KVM_EXIT_UNKNOWN, "KVM_EXIT_UNKNOWN"}, {KVM_EXIT_EXCEPTION, "KVM_EXIT_EXCEPTION"}, {KVM_EXIT_IO, "KVM_EXIT_IO"},
        {KVM_EXIT_HYPERCALL, "KVM_EXIT_HYPERCALL"}, {KVM_EXIT_DEBUG, "KVM_EXIT_DEBUG"}, {KVM_EXIT_HLT, "KVM_EXIT_HLT"},
        {KVM_EXIT_MMIO, "KVM_EXIT_MMIO"}, {KVM_EXIT_SHUTDOWN, "KVM_EXIT_SHUTDOWN"}, {KVM_EXIT_FAIL_ENTRY, "KVM_EXIT_FAIL_ENTRY"},
        {KVM_EXIT_INTR, "KVM_EXIT_INTR"}, {KVM_EXIT_INTERNAL_ERROR, "KVM_EXIT_INTERNAL_ERROR"},
        {KVM_EXIT_SYSTEM_EVENT, "KVM_EXIT_SYSTEM_EVENT"}, {kExitArmNisv, "KVM_EXIT_ARM_NISV"}, {kExitMemoryFault, "KVM_EXIT_MEMORY_FAULT"},
    };
    for (auto [n, s] : names)
        if (n == reason) return s;
    return "KVM_EXIT_" + std::to_string(reason);
}

RunFailure run_failure(long r, const HostLayout& layout) {
    RunFailure f;
    if (r == -EINTR && RunTimer::fired() && !SigbusCatcher::caught()) {
        f.other_exit = "KVM_RUN did not return within " + std::to_string(kRunTimeoutSeconds) + " s";
        f.timed_out = true;
        return f;
    }
    VcpuEvent e;
    if (r == -EINTR && SigbusCatcher::caught()) {
        e.kind = VcpuEvent::Kind::Signal;
        e.signal = Signal::Sigbus;
        e.signal_addr = Hva(layout.to_scenario(SigbusCatcher::address()));
    } else {
        e.kind = VcpuEvent::Kind::RunError;
        e.error = errno_from_value(static_cast<int>(-r)).value_or(Errno::Einval);
        if (!errno_from_value(static_cast<int>(-r))) f.other_exit = "KVM_RUN failed with errno " + std::to_string(-r);
    }
    f.event = e;
    return f;
}

}  // namespace kvmsim::sim::kvmhost
