#include "vcpu.h"

#include <linux/kvm.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>

#include "../run_guard.h"

namespace kvmsim::sim::kvmhost::arm64 {
namespace {

std::uint64_t core_reg(std::size_t offset) { return KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | (offset / sizeof(std::uint32_t)); }
std::uint64_t x_reg(unsigned n) { return core_reg(offsetof(kvm_regs, regs.regs) + 8 * n); }
const std::uint64_t kPc = core_reg(offsetof(kvm_regs, regs.pc));
constexpr std::uint64_t kVbarEl1 = ARM64_SYS_REG(3, 0, 12, 0, 0);
constexpr std::uint64_t kSctlrEl1 = ARM64_SYS_REG(3, 0, 1, 0, 0);
constexpr std::uint64_t kTtbr0El1 = ARM64_SYS_REG(3, 0, 2, 0, 0);
constexpr std::uint64_t kTtbr1El1 = ARM64_SYS_REG(3, 0, 2, 0, 1);
constexpr std::uint64_t kTcrEl1 = ARM64_SYS_REG(3, 0, 2, 0, 2);
constexpr std::uint64_t kMairEl1 = ARM64_SYS_REG(3, 0, 10, 2, 0);
constexpr std::uint64_t kIdAa64Mmfr0El1 = ARM64_SYS_REG(3, 0, 0, 7, 0);

// SCTLR_EL1.M (MMU), .C (data cacheable), .I (instruction cacheable).
constexpr std::uint64_t kSctlrMmuOn = 1u << 0 | 1u << 2 | 1u << 12;

// TCR_EL1 for the scenario's TTBR0 and the backend's TTBR1: both walks write-back cacheable,
// inner shareable; TTBR1 4K with 48 bits; hardware AF updates (HA, bit 39) when the scenario
// asks (RES0 on a CPU without FEAT_HAFDBS), never dirty-state updates (HD = 0).
std::uint64_t tcr(const Stage1Setup& s, std::uint64_t mmfr0) {
    const std::uint64_t tg0 = s.granule_shift == 16 ? 1 : s.granule_shift == 14 ? 2 : 0;
    const std::uint64_t ips = std::min<std::uint64_t>(mmfr0 & 0xf, 5);  // PARange, at most 48 bits
    const std::uint64_t ha = s.ha ? std::uint64_t{1} << 39 : 0;
    return (64 - s.va_bits) | 1u << 8 | 1u << 10 | 3u << 12 | tg0 << 14 | 16u << 16 | 1u << 24 | 1u << 26 | 3u << 28 | 2u << 30 | ips << 32 | ha;
}

constexpr unsigned kEsrEcShift = 26;
constexpr std::uint32_t kVectorCurrentElSpxSync = 4;  // entry 4: synchronous, current EL, SP_ELx

}  // namespace

Vcpu::Vcpu(Fd fd, std::size_t run_size) : fd_(std::move(fd)), run_size_(run_size) {}

Vcpu::~Vcpu() {
    if (run_) ::munmap(run_, run_size_);
}

std::optional<std::string> Vcpu::map_run() {
    if (run_) return std::nullopt;
    void* p = ::mmap(nullptr, run_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd_.get(), 0);
    if (p == MAP_FAILED) return std::string("mmap of the vCPU's kvm_run failed: ") + std::strerror(errno);
    run_ = static_cast<kvm_run*>(p);
    return std::nullopt;
}

long Vcpu::init(const Fd& vm) {
    kvm_vcpu_init target{};
    if (const long r = raw_ioctl(vm, KVM_ARM_PREFERRED_TARGET, &target); r < 0) return r;
    const long r = raw_ioctl(fd_, KVM_ARM_VCPU_INIT, &target);
    if (r == 0) initialised_ = true;
    return r;
}

long Vcpu::set_mmu(const std::optional<Stage1Setup>& stage1, const CodePlace& place) {
    if (!sctlr_reset_) {
        sctlr_reset_ = get_reg(kSctlrEl1);
        if (!sctlr_reset_) return -errno;
    }
    if (!stage1) {
        if (!mmu_on_) return 0;
        mmu_on_ = false;
        return set_reg(kSctlrEl1, *sctlr_reset_);
    }
    const auto mmfr0 = get_reg(kIdAa64Mmfr0El1);
    if (!mmfr0) return -errno;
    for (const auto& [id, value] : {std::pair{kMairEl1, kMair}, {kTcrEl1, tcr(*stage1, *mmfr0)}, {kTtbr0El1, stage1->ttbr0}, {kTtbr1El1, place.ttbr1},
                                    {kSctlrEl1, *sctlr_reset_ | kSctlrMmuOn}})
        if (const long r = set_reg(id, value); r < 0) return r;
    mmu_on_ = true;
    return 0;
}

long Vcpu::set_stage1(const Stage1Setup& s) {
    const long r = set_reg(kTtbr0El1, s.ttbr0);
    if (r == 0) stage1_ = s;
    return r;
}

long Vcpu::set_reg(std::uint64_t id, std::uint64_t value) {
    kvm_one_reg reg{id, reinterpret_cast<std::uint64_t>(&value)};
    return raw_ioctl(fd_, KVM_SET_ONE_REG, &reg);
}

std::optional<std::uint64_t> Vcpu::get_reg(std::uint64_t id) {
    std::uint64_t value = 0;
    kvm_one_reg reg{id, reinterpret_cast<std::uint64_t>(&value)};
    if (raw_ioctl(fd_, KVM_GET_ONE_REG, &reg) < 0) return std::nullopt;
    return value;
}

void Vcpu::settle() {
    if (!unsettled_) return;
    run_->immediate_exit = 1;
    (void)raw_ioctl(fd_, KVM_RUN, 0);  // -EINTR, after completing the MMIO access
    run_->immediate_exit = 0;
    unsettled_ = false;
}

AccessOutcome Vcpu::access(const CodePlace& place, const AccessRequest& req, const HostLayout& layout, const MmioAnswer* answer) {
    AccessOutcome out;
    if (auto err = map_run()) {
        out.other_exit = *err;
        return out;
    }
    settle();
    // Before KVM_ARM_VCPU_INIT every register write fails with ENOEXEC; KVM_RUN then reports
    // the same, which is the outcome the step is after.
    if (initialised_) {
        // With the MMU on the code, vectors and mailbox are reached through TTBR1.
        const std::uint64_t va = req.stage1 ? kHighVa : 0;
        const bool ok = set_mmu(req.stage1, place) == 0 && set_reg(kVbarEl1, va + place.code_gpa + GuestCode::kVectors) == 0 &&
                        set_reg(kPc, va + place.code_gpa + GuestCode::routine(req.kind, req.size, req.isv)) == 0 && set_reg(x_reg(0), req.address) == 0 &&
                        set_reg(x_reg(1), req.kind == AccessKind::Write && req.size == 8 && !req.isv ? req.data & 0xffffffffu : req.data) == 0 &&
                        set_reg(x_reg(2), req.kind == AccessKind::Cas ? req.compare : req.data >> 32) == 0 && set_reg(x_reg(10), va + place.mailbox_gpa) == 0;
        if (!ok) {
            // A dead VM (kvm->vm_dead) refuses every vCPU ioctl with EIO: KVM_RUN would too.
            if (errno == EIO) {
                VcpuEvent e;
                e.kind = VcpuEvent::Kind::RunError;
                e.error = Errno::Eio;
                out.result.events.push_back(e);
                return out;
            }
            out.other_exit = std::string("KVM_SET_ONE_REG failed: ") + std::strerror(errno);
            return out;
        }
    }
    std::array<std::uint8_t, 8> reply{};
    std::memcpy(reply.data(), &req.mmio_reply, 8);
    std::optional<std::uint64_t> vector, esr;
    const SigbusCatcher catcher;
    const RunTimer timer;
    // The access exits at most once, then the mailbox stores follow (three for a handler).
    for (int round = 0; round < 16; ++round) {
        const long r = raw_ioctl(fd_, KVM_RUN, 0);
        if (r < 0) {
            const RunFailure fail = run_failure(r, layout);
            out.other_exit = fail.other_exit;
            if (fail.event) out.result.events.push_back(*fail.event);
            return out;
        }
        switch (run_->exit_reason) {
        case KVM_EXIT_MMIO: {
            std::uint64_t value = 0;
            std::memcpy(&value, run_->mmio.data, 8);
            const std::uint64_t at = run_->mmio.phys_addr;
            if (at >= place.mailbox_gpa && at < place.mailbox_gpa + kMailSize && run_->mmio.is_write) {
                unsettled_ = true;
                const std::uint64_t off = at - place.mailbox_gpa;
                if (off == kMailDone) {
                    out.result.completed = true;
                    const std::uint64_t mask = req.size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * req.size)) - 1;
                    // A load's value, a CAS's old value, AT's PAR_EL1; a store's own data.
                    out.result.data = req.kind == AccessKind::Read || req.kind == AccessKind::Cas ? value & mask : req.kind == AccessKind::At ? value : req.data;
                    return out;
                }
                if (off == kMailVector) vector = value;
                if (off == kMailEsr) esr = value;
                if (off == kMailFar) {
                    if (vector != kVectorCurrentElSpxSync || !esr) {
                        out.other_exit = "the guest took exception vector entry " + std::to_string(vector.value_or(99)) + " (ESR_EL1 " + std::to_string(esr.value_or(0)) + ")";
                        return out;
                    }
                    VcpuEvent e;
                    e.kind = VcpuEvent::Kind::Exception;
                    // ESR_ELx.EC is bits 31:26; 6.1 sign-extends the ESR it injects
                    // (inject_abt64() builds it from int constants), so bits 63:32 are not EC.
                    e.exception.vector = static_cast<std::uint8_t>((*esr >> kEsrEcShift) & 0x3f);
                    out.esr = *esr;
                    e.exception.error_code = static_cast<std::uint32_t>(*esr & 0x1ffffff);  // ISS
                    e.exception.cr2 = value;
                    out.result.events.push_back(e);
                    return out;
                }
                continue;
            }
            VcpuEvent e;
            e.kind = VcpuEvent::Kind::Exit;
            e.exit = Exit::Mmio;
            e.mmio.phys_addr = Gpa(at);
            e.mmio.len = run_->mmio.len;
            e.mmio.is_write = run_->mmio.is_write != 0;
            std::memcpy(e.mmio.data.data(), run_->mmio.data, 8);
            out.result.events.push_back(e);
            if (answer) {
                std::array<std::uint8_t, 8> data{};
                std::memcpy(data.data(), run_->mmio.data, 8);
                const bool resumes = (*answer)(e, data);
                if (!run_->mmio.is_write) std::memcpy(run_->mmio.data, data.data(), 8);
                unsettled_ = true;
                if (!resumes) return out;
                continue;
            }
            if (!run_->mmio.is_write) {
                // With the MMU on the exit names the IPA, not the VA: one exit covers the access.
                const std::uint64_t off = req.stage1 ? 0 : at - req.address;
                std::memset(run_->mmio.data, 0, 8);
                for (std::uint32_t i = 0; i < run_->mmio.len && i < 8 && off + i < 8; ++i) run_->mmio.data[i] = reply[off + i];
            }
            continue;
        }
        case KVM_EXIT_ARM_NISV: {
            VcpuEvent e;
            e.kind = VcpuEvent::Kind::Exit;
            e.exit = Exit::ArmNisv;
            e.arm_nisv.esr_iss = run_->arm_nisv.esr_iss;
            e.arm_nisv.fault_ipa = run_->arm_nisv.fault_ipa;
            out.result.events.push_back(e);
            return out;
        }
        default:
            if (answer) {
                // A VMM dies on an exit it does not handle; it needs the number to say so.
                VcpuEvent e;
                e.kind = VcpuEvent::Kind::Exit;
                e.exit = static_cast<Exit>(run_->exit_reason);
                out.result.events.push_back(e);
            }
            out.other_exit = exit_name(run_->exit_reason);
            return out;
        }
    }
    out.other_exit = "the access kept exiting to userspace (16 exits)";
    return out;
}

}  // namespace kvmsim::sim::kvmhost::arm64
