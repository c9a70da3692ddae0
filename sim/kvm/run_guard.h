// What every KVM_RUN of the backend runs under, whatever the architecture: a timer so a guest
// that never hands control back cannot hang kvmsim, a SIGBUS catcher for hwpoisoned pages,
// and the names of exits outside the model's vocabulary.
#pragma once

#include <signal.h>

#include <cstdint>
#include <string>

namespace kvmsim::sim::kvmhost {

// KVM_RUN returns -EINTR once this many seconds have passed (SIGALRM, no SA_RESTART).
constexpr int kRunTimeoutSeconds = 10;

class RunTimer {
public:
    RunTimer();
    RunTimer(const RunTimer&) = delete;
    RunTimer& operator=(const RunTimer&) = delete;
    ~RunTimer();
    [[nodiscard]] static bool fired();

private:
    struct sigaction old_ {};
};

// SIGBUS from a hwpoisoned page reaches the thread inside KVM_RUN (kvm_send_hwpoison_signal());
// the handler only records si_addr so the run loop can report it.
class SigbusCatcher {
public:
    SigbusCatcher();
    SigbusCatcher(const SigbusCatcher&) = delete;
    SigbusCatcher& operator=(const SigbusCatcher&) = delete;
    ~SigbusCatcher();
    [[nodiscard]] static bool caught();
    [[nodiscard]] static std::uint64_t address();

private:
    struct sigaction old_ {};
};

// "KVM_EXIT_HLT" etc., for exits outside the model's vocabulary.
std::string exit_name(std::uint32_t reason);

}  // namespace kvmsim::sim::kvmhost
