// One real vCPU of the backend's VM: its fd, its kvm_run page, and the run loop that performs
// one guest access with the backend's guest code and reports the events userspace saw.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "../fd.h"
#include "guest_image.h"
#include "../host_layout.h"
#include "../run_guard.h"
#include "model/kvm/run.h"

struct kvm_run;

namespace kvmsim::sim::kvmhost {

struct AccessRequest {
    GuestOp op = GuestOp::Read;
    std::uint64_t address = 0;     // the linear address the routine uses (rdi)
    unsigned size = 4;
    std::uint64_t data = 0;        // a write's value
    std::uint64_t mmio_reply = 0;  // bytes handed to MMIO reads, by offset within the access
};

struct AccessOutcome {
    GuestAccessResult result;
    // An exit the model's vocabulary has no event for (KVM_EXIT_INTERNAL_ERROR details, an
    // unexpected HLT or I/O exit): its name, reported as the outcome's "exit".
    std::optional<std::string> other_exit;
    // KVM_RUN was still in the guest when the timer fired: the kernel kept re-entering it.
    bool timed_out = false;
};

class Vcpu {
public:
    Vcpu(Fd fd, std::size_t run_size);
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    ~Vcpu();

    [[nodiscard]] bool ready() const { return ready_; }
    // The kvm_run page and CPUID from KVM_GET_SUPPORTED_CPUID; an error message.
    std::optional<std::string> configure(const Fd& kvm);
    // KVM_SET_SREGS with these control registers (CS.L set only in long mode): 0 or -errno.
    long set_control_registers(std::uint64_t cr0, std::uint64_t cr3, std::uint64_t cr4, std::uint64_t efer);
    // One access in `context`; a SIGBUS address is reported in the scenario's addresses via
    // `layout`. MMIO reads get request.mmio_reply, or, given `answer`, whatever it supplies for
    // each exit in turn (kvmtool's loop); with `answer`, an exit outside the model's vocabulary
    // is also reported as an Exit event carrying its number, so a VMM can die on it.
    AccessOutcome access(const GuestContext& context, const AccessRequest& request, const HostLayout& layout, const MmioAnswer* answer = nullptr);

private:
    Fd fd_;
    kvm_run* run_ = nullptr;
    std::size_t run_size_;
    bool ready_ = false;
};

// CPUID.80000008H:EAX[7:0] of KVM_GET_SUPPORTED_CPUID: the guest's MAXPHYADDR.
unsigned guest_maxphyaddr(const Fd& kvm);
// CPUID.(EAX=7,ECX=0):ECX[16] of KVM_GET_SUPPORTED_CPUID: whether the guest may have LA57
// (kvm_set_cpu_caps() keeps it only where the host CPU has it); nullopt if the ioctl fails.
std::optional<bool> guest_la57(const Fd& kvm);

}  // namespace kvmsim::sim::kvmhost
