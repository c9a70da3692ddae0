// What every KVM_RUN of the backend runs under, whatever the architecture: a timer so a guest
// that never hands control back cannot hang kvmsim, a SIGBUS catcher for hwpoisoned pages,
// and the names of exits outside the model's vocabulary.
#pragma once

#include <signal.h>

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "host_layout.h"
#include "model/kvm/run.h"

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

// A VMM's answer to one KVM_EXIT_MMIO, called before KVM_RUN is re-entered: a read's bytes go
// in `data` (copied to kvm_run->mmio.data). False: no further KVM_RUN for this access.
using MmioAnswer = std::function<bool(const VcpuEvent& exit, std::array<std::uint8_t, 8>& data)>;

// What a KVM_RUN that returned r < 0 under RunTimer and SigbusCatcher means: the timer fired
// (no event; `other_exit` says so), a SIGBUS from a poisoned page (its address in the
// scenario's words), or an errno (`other_exit` also set when the model has no name for it).
struct RunFailure {
    std::optional<VcpuEvent> event;
    std::optional<std::string> other_exit;
    bool timed_out = false;
};
RunFailure run_failure(long r, const HostLayout& layout);

// "KVM_EXIT_HLT" etc., for exits outside the model's vocabulary.
std::string exit_name(std::uint32_t reason);

}  // namespace kvmsim::sim::kvmhost
