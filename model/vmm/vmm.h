// The VMM: kvmtool's per-VM state (its bank list, MMIO tree and devices) and the vCPU run loop
// (kvm_cpu__start(), kvm-cpu.c) that turns each KVM_EXIT_MMIO into a device call. It sees the
// kernel model only as kvmtool sees /dev/kvm: ioctls in, struct kvm_run out.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../kvm/run.h"
#include "log.h"
#include "mem_banks.h"
#include "memory_map.h"
#include "mmio_bus.h"
#include "vmm_host.h"

namespace kvmsim::vmm {

// One guest load or store, as the guest issues it.
struct VcpuAccess {
    Gpa gpa;
    unsigned size = 4;
    bool is_write = false;
    std::uint64_t data = 0;  // a store's value, little-endian
    // arm64: ESR_EL2.ISV, the syndrome describes the access. false: a load/store pair or a
    // writeback form, which KVM cannot emulate (KVM_RUN -ENOSYS, or KVM_EXIT_ARM_NISV).
    bool isv = true;
};

// The VMM's answer to one KVM_EXIT_MMIO, called before the next KVM_RUN: a read's bytes go in
// `mmio_data` (kvm_run->mmio.data). False: the VMM will not call KVM_RUN again (it died).
using MmioExitFn = std::function<bool(const VcpuEvent& exit, std::array<std::uint8_t, 8>& mmio_data)>;

// KVM_RUN, re-entered after each KVM_EXIT_MMIO that `on_mmio` answered, until the access
// retires or stops. The result's data is the load's value with the answers in it; its MMIO
// events are the exits already handed to `on_mmio`.
using KvmRun = std::function<GuestAccessResult(const VcpuAccess&, const MmioExitFn& on_mmio)>;

// One exit and what the VMM made of it.
struct HandledExit {
    VcpuEvent event;                      // as KVM_RUN reported it
    std::string device;                   // the device that claimed it; empty: none did
    std::string decision;                 // what the device (or kvmtool) did, in words
    std::array<std::uint8_t, 8> reply{};  // a read's kvm_run->mmio.data when KVM_RUN resumed
};

enum class VmmState { Running, Died };

struct AccessOutcome {
    std::vector<HandledExit> exits;
    std::optional<VcpuEvent> stop;  // a failed KVM_RUN, a signal or a guest exception that ended it
    bool completed = false;         // the instruction retired
    std::uint64_t data = 0;         // a load's value
};

class Vmm {
public:
    Vmm(VmIoctls& ioctls, VmmMemory& memory) : ioctls_(ioctls), memory_(memory), banks_(ioctls, log_) {}

    [[nodiscard]] VmIoctls& ioctls() { return ioctls_; }
    [[nodiscard]] VmmMemory& memory() { return memory_; }
    [[nodiscard]] Trace& trace() { return ioctls_.trace(); }
    [[nodiscard]] MemBanks& banks() { return banks_; }
    [[nodiscard]] MmioBus& mmio_bus() { return mmio_; }
    [[nodiscard]] VmmLog& log() { return log_; }

    // The VMM owns its devices for the VM's lifetime (kvmtool's device__register()).
    template <typename Device>
    Device& add_device(std::unique_ptr<Device> d) {
        Device& ref = *d;
        devices_.push_back(std::move(d));
        return ref;
    }

    // models kvm_cpu__start(), kvm-cpu.c (kvmtool): KVM_RUN until this access retires or stops
    AccessOutcome run_access(std::uint32_t vcpu_id, const VcpuAccess& access, const KvmRun& kvm_run);

    // models die(), util/util.c (kvmtool): " Fatal: <msg>" and exit
    void die(std::string msg);
    // models die_perror(), util/util.c (kvmtool): perror(s) and exit
    void die_perror(const std::string& s, Errno e);
    // The process ends on a signal it does not handle; kvmtool prints nothing.
    void killed_by(std::string_view signal);
    [[nodiscard]] VmmState state() const { return state_; }
    [[nodiscard]] const std::string& death() const { return death_; }

    bool debug_mmio = false;   // kvmtool --debug-mmio
    bool debug_ioport = false;  // kvmtool --debug-ioport (kvm->cfg.ioport_debug)
    VmmArch arch = VmmArch::X86_64;  // the kvmtool build: arm and riscv route the I/O window

private:
    // models kvm_cpu__emulate_mmio(), arm/include/arm-common/kvm-cpu-arch.h (kvmtool): false
    // sends kvm_cpu__start() down its panic path
    bool cpu_emulate_mmio(HandledExit& exit, std::span<std::uint8_t> data);
    // models kvm__emulate_mmio(), mmio.c (kvmtool)
    void emulate_mmio(HandledExit& exit, std::span<std::uint8_t> data);
    // models kvm__emulate_io(), mmio.c (kvmtool), for an MMIO exit in arm's or riscv's I/O window
    bool emulate_io(HandledExit& exit, std::span<std::uint8_t> data);
    // models kvm_cpu_thread()'s panic_kvm path, builtin-run.c (kvmtool)
    void panic_kvm(const VcpuEvent& e);

    VmIoctls& ioctls_;
    VmmMemory& memory_;
    VmmLog log_;
    MemBanks banks_;
    MmioBus mmio_;
    std::vector<std::unique_ptr<MmioDevice>> devices_;
    // Each vCPU's kvm_run page: the kernel fills mmio.data only for writes, so a read nobody
    // answers returns whatever the previous exit left there.
    std::map<std::uint32_t, std::array<std::uint8_t, 8>> run_data_;
    VmmState state_ = VmmState::Running;
    std::string death_;
};

}  // namespace kvmsim::vmm
