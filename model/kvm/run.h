// What KVM_RUN hands back for one guest access: the exits userspace sees (struct kvm_run,
// include/uapi/linux/kvm.h), a failed KVM_RUN, a signal, or an exception the guest takes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "../errno.h"
#include "../types.h"

namespace kvmsim {

enum class Exit : std::uint32_t {
    Io = 2,             // KVM_EXIT_IO
    Mmio = 6,           // KVM_EXIT_MMIO
    Shutdown = 8,       // KVM_EXIT_SHUTDOWN
    InternalError = 17, // KVM_EXIT_INTERNAL_ERROR
    Intr = 10,          // KVM_EXIT_INTR
    MemoryFault = 39,   // KVM_EXIT_MEMORY_FAULT
    ArmNisv = 28,       // KVM_EXIT_ARM_NISV
};

[[nodiscard]] std::string_view to_string(Exit e);
[[nodiscard]] std::optional<Exit> exit_from_string(std::string_view name);

// run->mmio
struct kvm_run_mmio {
    Gpa phys_addr;
    std::uint32_t len = 0;
    bool is_write = false;
    std::array<std::uint8_t, 8> data{};
};

// run->memory_fault
struct kvm_run_memory_fault {
    std::uint64_t flags = 0;
    Gpa gpa;
    std::uint64_t size = 0;
};

// run->arm_nisv: a data abort without a valid instruction syndrome, handed to userspace.
struct kvm_run_arm_nisv {
    std::uint64_t esr_iss = 0;  // ESR_EL2 masked to what userspace may see
    std::uint64_t fault_ipa = 0;
};

enum class Signal { Sigbus };
[[nodiscard]] std::string_view to_string(Signal s);

// An exception delivered to the guest (vector, error code, CR2 for #PF). On arm64 the vector is
// the injected abort's exception class (ESR_ELx.EC) and cr2 holds FAR_EL1.
struct GuestException {
    std::uint8_t vector = 0;
    std::uint32_t error_code = 0;
    std::uint64_t cr2 = 0;
};

// One event a guest access produced, in the order userspace would see them.
struct VcpuEvent {
    enum class Kind { Exit, RunError, Signal, Exception };
    Kind kind = Kind::Exit;
    Exit exit = Exit::Mmio;
    kvm_run_mmio mmio;                                // Exit::Mmio
    kvm_run_arm_nisv arm_nisv;                        // Exit::ArmNisv
    std::optional<kvm_run_memory_fault> memory_fault; // RunError with KVM_EXIT_MEMORY_FAULT filled
    Errno error = Errno::Efault;                      // RunError
    Signal signal = Signal::Sigbus;                   // Signal
    Hva signal_addr;                                  // Signal: si_addr
    GuestException exception;                         // Exception
};

// The result of one guest access: its events and, for a read that completed, the value.
struct GuestAccessResult {
    std::vector<VcpuEvent> events;
    bool completed = false;  // the instruction retired
    std::uint64_t data = 0;  // a read's value, little-endian
};

}  // namespace kvmsim
