// One real arm64 vCPU of the backend's VM: its fd and kvm_run page, KVM_ARM_VCPU_INIT, and the
// run loop that performs one access with the backend's guest code (guest_code.h) and reports
// the events userspace saw: MMIO and NISV exits, a failed KVM_RUN, or an abort KVM injected.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "../fd.h"
#include "../host_layout.h"
#include "../run_guard.h"
#include "guest_code.h"
#include "model/kvm/run.h"

struct kvm_run;

namespace kvmsim::sim::kvmhost::arm64 {

// The scenario's stage 1 (set_stage1_regs): TTBR0_EL1 and TCR_EL1's T0SZ and TG0.
struct Stage1Setup {
    std::uint64_t ttbr0 = 0;
    unsigned granule_shift = 12;
    unsigned va_bits = 48;
    bool ha = false;  // TCR_EL1.HA: hardware Access-flag updates
};

struct AccessRequest {
    AccessKind kind = AccessKind::Read;
    std::uint64_t address = 0;
    unsigned size = 4;
    bool isv = true;
    std::uint64_t data = 0;        // a store's value; a CAS's new value
    std::uint64_t compare = 0;     // a CAS's expected value
    std::uint64_t mmio_reply = 0;  // bytes handed to MMIO loads, by offset within the access
    // Set: the MMU is on and `address` is a VA through the scenario's TTBR0 tables; the code
    // runs from the upper half (kHighVa) through the backend's TTBR1 tables.
    std::optional<Stage1Setup> stage1;
};

// Where the backend's code is: the routines' gpa and the mailbox (guest_code.h).
struct CodePlace {
    std::uint64_t code_gpa = 0;
    std::uint64_t mailbox_gpa = 0;
    std::uint64_t ttbr1 = 0;  // the backend's upper-half tables (GuestCode::build_high_tables())
};

struct AccessOutcome {
    GuestAccessResult result;
    // What the model's vocabulary has no event for (an unexpected exit, a handler for a vector
    // other than a synchronous one): reported as the outcome's "exit".
    std::optional<std::string> other_exit;
    // The whole ESR_EL1 of an abort the guest took (the outcome keeps only its EC).
    std::optional<std::uint64_t> esr;
};

class Vcpu {
public:
    Vcpu(Fd fd, std::size_t run_size);
    Vcpu(const Vcpu&) = delete;
    Vcpu& operator=(const Vcpu&) = delete;
    ~Vcpu();

    // Maps kvm_run; an error message.
    std::optional<std::string> map_run();
    // KVM_ARM_PREFERRED_TARGET on the VM, then KVM_ARM_VCPU_INIT with it: 0 or -errno.
    long init(const Fd& vm);
    [[nodiscard]] bool initialised() const { return initialised_; }
    // One access. A vCPU that was never initialised still runs (KVM_RUN reports ENOEXEC).
    AccessOutcome access(const CodePlace& place, const AccessRequest& request, const HostLayout& layout, const MmioAnswer* answer = nullptr);

    // set_stage1_regs: TTBR0_EL1 written now (KVM_SET_ONE_REG: 0 or -errno); the rest of the
    // MMU set-up is written before each access that has `stage1`.
    long set_stage1(const Stage1Setup& s);
    [[nodiscard]] const std::optional<Stage1Setup>& stage1() const { return stage1_; }

    // KVM_GET_ONE_REG; nullopt when refused.
    std::optional<std::uint64_t> get_reg(std::uint64_t id);

private:
    long set_reg(std::uint64_t id, std::uint64_t value);
    // MAIR/TCR/TTBR0/TTBR1/SCTLR_EL1 for the request: the MMU on with the scenario's tables, or
    // SCTLR_EL1 back to its reset value (MMU off). 0 or -errno.
    long set_mmu(const std::optional<Stage1Setup>& stage1, const CodePlace& place);
    // KVM applies the PC advance of a completed MMIO access at the next KVM_RUN: one run with
    // immediate_exit set settles it before the PC is overwritten.
    void settle();

    Fd fd_;
    kvm_run* run_ = nullptr;
    std::size_t run_size_;
    bool initialised_ = false;
    bool unsettled_ = false;
    std::optional<std::uint64_t> sctlr_reset_;  // SCTLR_EL1 as KVM_ARM_VCPU_INIT left it
    bool mmu_on_ = false;
    std::optional<Stage1Setup> stage1_;
};

}  // namespace kvmsim::sim::kvmhost::arm64
