// MMIO emulation of a data abort (arch/arm64/kvm/mmio.c), and the events it and the abort path give.
#pragma once

#include "../kvm/kvm.h"
#include "../kvm/run.h"
#include "guest_access.h"

namespace kvmsim {

[[nodiscard]] VcpuEvent run_error(Errno e);
// kvm_inject_dabt() / kvm_inject_pabt() / kvm_inject_sea(): an abort the guest takes at addr.
[[nodiscard]] VcpuEvent inject_abort(std::uint8_t ec, Gpa addr);

// models io_mem_abort(), arch/arm64/kvm/mmio.c, and its completion kvm_handle_mmio_return().
void io_mem_abort(kvm& vm, Arm64Arch& arch, Gpa fault_ipa, Stage2FaultKind kind, const Arm64GuestAccess& a, GuestAccessResult& out);

}  // namespace kvmsim
