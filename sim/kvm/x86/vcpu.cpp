#include "vcpu.h"

#include "../run_guard.h"

#include <linux/kvm.h>
#include <sys/mman.h>

#include <array>
#include <cstring>
#include <vector>

namespace kvmsim::sim::kvmhost {
namespace {

// Headers older than the running kernel lack these (UAPI values, include/uapi/linux/kvm.h).
constexpr std::uint32_t kExitMemoryFault = 39;
// g++ sizes <linux/kvm.h>'s struct kvm_cpuid2 (a flexible array inside an anonymous struct)
// as 12 bytes, so the header's macros encode the wrong size; the kernel's is 8.
constexpr std::size_t kCpuid2HeaderSize = 8;
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, kCpuid2HeaderSize);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, kCpuid2HeaderSize);

void set_segment(kvm_segment& s, std::uint16_t selector, bool code) {
    s = {};
    s.selector = selector;
    s.limit = 0xffffffff;
    s.present = 1;
    s.s = 1;
    s.g = 1;
    s.type = code ? 11 : 3;  // execute/read accessed : read/write accessed
    s.l = code ? 1 : 0;
    s.db = code ? 0 : 1;
}

// struct kvm_cpuid2 ends in a flexible array: room for 256 entries behind the header.
class Cpuid {
public:
    explicit Cpuid(std::uint32_t entries) : storage_((sizeof(kvm_cpuid2) + entries * sizeof(kvm_cpuid_entry2)) / sizeof(std::uint64_t) + 1, 0) {
        get()->nent = entries;
    }
    kvm_cpuid2* get() { return reinterpret_cast<kvm_cpuid2*>(storage_.data()); }
    [[nodiscard]] const kvm_cpuid2* get() const { return reinterpret_cast<const kvm_cpuid2*>(storage_.data()); }
    // Not get()->entries[i]: g++ places the header's flexible array 4 bytes late.
    [[nodiscard]] const kvm_cpuid_entry2& entry(std::uint32_t i) const {
        return reinterpret_cast<const kvm_cpuid_entry2*>(reinterpret_cast<const std::uint8_t*>(storage_.data()) + kCpuid2HeaderSize)[i];
    }

private:
    std::vector<std::uint64_t> storage_;
};

std::optional<Cpuid> supported_cpuid(const Fd& kvm) {
    // E2BIG asks for a larger array (KVM_GET_SUPPORTED_CPUID, Documentation/virt/kvm/api.rst).
    for (std::uint32_t n = 256; n <= 4096; n *= 2) {
        Cpuid c(n);
        const long r = raw_ioctl(kvm, kGetSupportedCpuid, c.get());
        if (r == 0) return c;
        if (r != -E2BIG) return std::nullopt;
    }
    return std::nullopt;
}


}  // namespace

Vcpu::Vcpu(Fd fd, std::size_t run_size) : fd_(std::move(fd)), run_size_(run_size) {}

Vcpu::~Vcpu() {
    if (run_) ::munmap(run_, run_size_);
}

std::optional<std::string> Vcpu::configure(const Fd& kvm) {
    void* p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    if (p == MAP_FAILED) return std::string("mmap of the vCPU's kvm_run failed: ") + std::strerror(errno);
    run_ = static_cast<kvm_run*>(p);
    auto cpuid = supported_cpuid(kvm);
    if (!cpuid) return "KVM_GET_SUPPORTED_CPUID failed";
    if (raw_ioctl(fd_, kSetCpuid2, cpuid->get()) < 0) return "KVM_SET_CPUID2 failed";
    ready_ = true;
    return std::nullopt;
}

namespace {

// 64-bit mode at CPL 0 on the context's registers and descriptor tables.
std::optional<std::string> load_context(const Fd& fd, const GuestContext& c) {
    kvm_sregs s{};
    if (raw_ioctl(fd, KVM_GET_SREGS, &s) < 0) return "KVM_GET_SREGS failed";
    set_segment(s.cs, 0x08, true);
    set_segment(s.ds, 0x10, false);
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.gdt.base = c.gdt;
    s.gdt.limit = c.gdt_limit;
    s.idt.base = c.idt;
    s.idt.limit = c.idt_limit;
    s.cr0 = c.cr0;
    s.cr3 = c.cr3;
    s.cr4 = c.cr4;
    s.efer = c.efer;
    if (const long r = raw_ioctl(fd, KVM_SET_SREGS, &s); r < 0) return "KVM_SET_SREGS refused the access's context: " + std::string(std::strerror(static_cast<int>(-r)));
    return std::nullopt;
}

}  // namespace

long Vcpu::set_control_registers(std::uint64_t cr0, std::uint64_t cr3, std::uint64_t cr4, std::uint64_t efer) {
    kvm_sregs s{};
    if (const long r = raw_ioctl(fd_, KVM_GET_SREGS, &s); r < 0) return r;
    const bool long_mode = (efer & (1u << 10)) != 0;
    set_segment(s.cs, 0x08, true);
    s.cs.l = long_mode ? 1 : 0;
    s.cs.db = long_mode ? 0 : 1;
    s.cr0 = cr0;
    s.cr3 = cr3;
    s.cr4 = cr4;
    s.efer = efer;
    return raw_ioctl(fd_, KVM_SET_SREGS, &s) < 0 ? -errno : 0;
}

AccessOutcome Vcpu::access(const GuestContext& ctx, const AccessRequest& req, const HostLayout& layout, const MmioAnswer* answer) {
    AccessOutcome out;
    if (auto err = load_context(fd_, ctx)) {
        out.other_exit = *err;
        return out;
    }
    kvm_regs regs{};
    regs.rip = ctx.rip;
    regs.rsp = ctx.rsp;
    regs.rflags = 2;
    regs.rdi = req.address;
    regs.rsi = req.data;
    if (raw_ioctl(fd_, KVM_SET_REGS, &regs) < 0) {
        out.other_exit = "KVM_SET_REGS failed";
        return out;
    }
    std::array<std::uint8_t, 8> reply{};
    std::memcpy(reply.data(), &req.mmio_reply, 8);
    const SigbusCatcher catcher;
    const RunTimer timer;
    // An access exits at most once per fragment (two at a page boundary) before its hlt.
    for (int round = 0; round < 16; ++round) {
        run_->exit_reason = KVM_EXIT_UNKNOWN;
        const long r = raw_ioctl(fd_, KVM_RUN, 0);
        if (r < 0) {
            RunFailure fail = run_failure(r, layout);
            out.other_exit = fail.other_exit;
            out.timed_out = fail.timed_out;
            if (!fail.event) return out;
            VcpuEvent& e = *fail.event;
            if (e.kind == VcpuEvent::Kind::RunError && run_->exit_reason == kExitMemoryFault) {
                std::array<std::uint64_t, 3> mf{};
                std::memcpy(mf.data(), &run_->mmio, sizeof mf);  // the union's memory_fault member
                e.memory_fault = kvm_run_memory_fault{.flags = mf[0], .gpa = Gpa(mf[1]), .size = mf[2]};
            }
            out.result.events.push_back(e);
            return out;
        }
        switch (run_->exit_reason) {
        case KVM_EXIT_MMIO: {
            VcpuEvent e;
            e.kind = VcpuEvent::Kind::Exit;
            e.exit = Exit::Mmio;
            e.mmio.phys_addr = Gpa(run_->mmio.phys_addr);
            e.mmio.len = run_->mmio.len;
            e.mmio.is_write = run_->mmio.is_write != 0;
            std::memcpy(e.mmio.data.data(), run_->mmio.data, 8);
            if (answer) {
                out.result.events.push_back(e);
                std::array<std::uint8_t, 8> data{};
                std::memcpy(data.data(), run_->mmio.data, 8);
                const bool resumes = (*answer)(e, data);
                if (!run_->mmio.is_write) std::memcpy(run_->mmio.data, data.data(), 8);
                if (!resumes) return out;
                continue;
            }
            if (!run_->mmio.is_write) {
                // Translation keeps the offset within a page: a fragment on the access's first
                // page sits at its page offset minus the access's; one on the next page follows.
                const std::uint64_t start = req.address & 0xfff, at = run_->mmio.phys_addr & 0xfff;
                const std::uint64_t off = at >= start ? at - start : (0x1000 - start) + at;
                std::memset(run_->mmio.data, 0, 8);
                for (std::uint32_t i = 0; i < run_->mmio.len && i < 8 && off + i < 8; ++i) run_->mmio.data[i] = reply[off + i];
            }
            out.result.events.push_back(e);
            continue;
        }
        case KVM_EXIT_HLT: {
            kvm_regs after{};
            (void)raw_ioctl(fd_, KVM_GET_REGS, &after);
            if (after.rip == ctx.exception_halt_rip) {
                kvm_sregs s{};
                (void)raw_ioctl(fd_, KVM_GET_SREGS, &s);
                VcpuEvent e;
                e.kind = VcpuEvent::Kind::Exception;
                e.exception = {static_cast<std::uint8_t>(after.rcx), static_cast<std::uint32_t>(after.rax), s.cr2};
                out.result.events.push_back(e);
                return out;
            }
            out.result.completed = true;
            const std::uint64_t mask = req.size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * req.size)) - 1;
            out.result.data = req.op == GuestOp::Read ? after.rax & mask : req.data;
            return out;
        }
        case KVM_EXIT_SHUTDOWN: {
            VcpuEvent e;
            e.kind = VcpuEvent::Kind::Exit;
            e.exit = Exit::Shutdown;
            out.result.events.push_back(e);
            return out;
        }
        default:
            out.other_exit = exit_name(run_->exit_reason);
            if (answer) {
                VcpuEvent e;
                e.kind = VcpuEvent::Kind::Exit;
                e.exit = static_cast<Exit>(run_->exit_reason);
                out.result.events.push_back(e);
            }
            return out;
        }
    }
    out.other_exit = "the access did not finish within 16 exits";
    return out;
}

unsigned guest_maxphyaddr(const Fd& kvm) {
    const auto c = supported_cpuid(kvm);
    if (!c) return 36;
    for (std::uint32_t i = 0; i < c->get()->nent; ++i)
        if (const kvm_cpuid_entry2& e = c->entry(i); e.function == 0x80000008) return e.eax & 0xff;
    return 36;  // SDM: without leaf 80000008H, MAXPHYADDR is 36
}

std::optional<bool> guest_la57(const Fd& kvm) {
    const auto c = supported_cpuid(kvm);
    if (!c) return std::nullopt;
    for (std::uint32_t i = 0; i < c->get()->nent; ++i)
        if (const kvm_cpuid_entry2& e = c->entry(i); e.function == 7 && e.index == 0) return ((e.ecx >> 16) & 1) != 0;
    return false;  // no leaf 7: no LA57
}

}  // namespace kvmsim::sim::kvmhost
