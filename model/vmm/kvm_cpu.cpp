// The vCPU run loop of kvmtool (kvm-cpu.c) and its MMIO dispatch (mmio.c).
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "vmm.h"

namespace kvmsim::vmm {
namespace {

std::string describe(const kvm_run_mmio& m) {
    std::string s = std::string(m.is_write ? "write" : "read") + " gpa " + hex(m.phys_addr.value()) + " len " + std::to_string(m.len);
    if (m.is_write) {
        std::uint64_t v = 0;
        std::memcpy(&v, m.data.data(), std::min<std::uint32_t>(m.len, 8));
        s += " data " + hex(v);
    }
    return s;
}

std::string perror_text(Errno e) {
    // perror() spells the errno as strerror() does on Linux/glibc.
    switch (e) {
    case Errno::Efault: return "Bad address";
    case Errno::Enosys: return "Function not implemented";
    case Errno::Einval: return "Invalid argument";
    case Errno::Enoent: return "No such file or directory";
    case Errno::Ehwpoison: return "Memory page has hardware error";
    default: return std::string(to_string(e));
    }
}

}  // namespace

// models die(), util/util.c (kvmtool)
void Vmm::die(std::string msg) {
    if (state_ == VmmState::Died) return;
    state_ = VmmState::Died;
    death_ = msg;
    log_.fatal(std::move(msg));
}

// models die_perror(), util/util.c (kvmtool)
void Vmm::die_perror(const std::string& s, Errno e) {
    if (state_ == VmmState::Died) return;
    state_ = VmmState::Died;
    death_ = s + ": " + perror_text(e);
    log_.raw(death_);
}

// models kvm_cpu_thread()'s panic_kvm path, builtin-run.c (kvmtool): the reason is logged
// with pr_err and the vCPU thread ends. kvmtool's kvm_exit_reasons[] stops at
// KVM_EXIT_INTERNAL_ERROR (17), so for KVM_EXIT_ARM_NISV (28) it reads past the table; the model
// prints the name instead.
void Vmm::panic_kvm(const VcpuEvent& e) {
    if (state_ == VmmState::Died) return;
    log_.error("KVM exit reason: " + std::to_string(static_cast<std::uint32_t>(e.exit)) + " (\"" + std::string(to_string(e.exit)) + "\")");
    // The thread returns; with vCPU 0 gone, kvm_cmd_run_work() ends the VM. No "Fatal:" line.
    state_ = VmmState::Died;
    death_ = "vCPU thread ended on KVM exit reason " + std::string(to_string(e.exit));
}

void Vmm::killed_by(std::string_view signal) {
    if (state_ == VmmState::Died) return;
    state_ = VmmState::Died;
    death_ = "killed by " + std::string(signal);
}

// models kvm_cpu__emulate_mmio(), arm/include/arm-common/kvm-cpu-arch.h (kvmtool)
bool Vmm::cpu_emulate_mmio(HandledExit& exit, std::span<std::uint8_t> data) {
    if (addr_in_ioport_region(arch, exit.event.mmio.phys_addr.value())) return emulate_io(exit, data);
    emulate_mmio(exit, data);
    return true;
}

// models kvm__emulate_mmio(), mmio.c (kvmtool)
void Vmm::emulate_mmio(HandledExit& exit, std::span<std::uint8_t> data) {
    const kvm_run_mmio& m = exit.event.mmio;
    MmioDevice* dev = mmio_.search(m.phys_addr, m.len);
    if (!dev) {
        // Treated as handled: a write is dropped, a read leaves kvm_run->mmio.data as it was.
        exit.decision = "no device claims it: ignored";
        if (debug_mmio) {
            char addr[24];
            std::snprintf(addr, sizeof addr, "%016llx", static_cast<unsigned long long>(m.phys_addr.value()));
            log_.raw(std::string("MMIO warning: Ignoring MMIO ") + (m.is_write ? "write" : "read") + " at " + addr + " (length " +
                     std::to_string(m.len) + ")");
        }
        trace().emit("kvm__emulate_mmio", [&] { return describe(m) + ": no device -> ignored, KVM_RUN resumes"; });
        return;
    }
    exit.device = std::string(dev->name());
    trace().emit("kvm__emulate_mmio", [&] { return describe(m) + " -> " + exit.device; });
    exit.decision = dev->mmio(*this, m.phys_addr, data, m.is_write);
}

// models kvm_cpu__start(), kvm-cpu.c (kvmtool)
AccessOutcome Vmm::run_access(std::uint32_t vcpu_id, const VcpuAccess& access, const KvmRun& kvm_run) {
    AccessOutcome out;
    if (state_ == VmmState::Died) {
        trace().emit("kvm_cpu__start", [&] { return "the VMM is gone (" + death_ + "): no KVM_RUN"; });
        return out;
    }
    auto& run_data = run_data_[vcpu_id];
    // kvm_cpu__handle_exit() for KVM_EXIT_MMIO: the device answers before KVM_RUN is re-entered.
    const MmioExitFn on_mmio = [&](const VcpuEvent& e, std::array<std::uint8_t, 8>& mmio_data) {
        HandledExit h;
        h.event = e;
        const std::uint32_t len = std::min<std::uint32_t>(e.mmio.len, 8);
        trace().emit("kvm_cpu__start", [&] { return "KVM_RUN -> KVM_EXIT_MMIO " + describe(e.mmio); });
        if (e.mmio.is_write) std::memcpy(run_data.data(), e.mmio.data.data(), len);
        const bool handled = cpu_emulate_mmio(h, std::span(run_data.data(), len));
        h.reply = run_data;
        mmio_data = run_data;
        out.exits.push_back(std::move(h));
        if (!handled) panic_kvm(e);
        return state_ != VmmState::Died;
    };
    const GuestAccessResult r = kvm_run(access, on_mmio);
    if (state_ == VmmState::Died) return out;
    for (const VcpuEvent& e : r.events) {
        switch (e.kind) {
        case VcpuEvent::Kind::Exit:
            if (e.exit == Exit::Mmio) break;  // handled by on_mmio as it happened
            // kvm_cpu__handle_exit() knows none of the exits this model produces besides MMIO
            // (arm's returns false for every exit, KVM_EXIT_ARM_NISV included).
            panic_kvm(e);
            out.stop = e;
            return out;
        case VcpuEvent::Kind::RunError:
            // kvm_cpu__run(): EINTR and EAGAIN re-enter; anything else is fatal.
            if (e.error == Errno::Eintr || e.error == Errno::Eagain) break;
            trace().emit("kvm_cpu__run", [&] { return "KVM_RUN returned -" + std::string(to_string(e.error)) + " -> die_perror"; });
            die_perror("KVM_RUN failed", e.error);
            out.stop = e;
            return out;
        case VcpuEvent::Kind::Signal:
            // kvmtool installs no SIGBUS handler: the default action ends the process.
            trace().emit("kvm_cpu__run", [] { return std::string("SIGBUS during KVM_RUN: no handler -> process killed"); });
            killed_by(to_string(e.signal));
            out.stop = e;
            return out;
        case VcpuEvent::Kind::Exception:
            // Delivered inside the guest; the VMM never hears of it.
            out.stop = e;
            return out;
        }
    }
    out.completed = r.completed;
    if (r.completed && !access.is_write) out.data = r.data;
    trace().emit("kvm_cpu__start", [&] { return std::string(r.completed ? "access retired" : "access did not retire"); });
    return out;
}

}  // namespace kvmsim::vmm
