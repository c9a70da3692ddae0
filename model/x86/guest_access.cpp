#include "guest_access.h"

#include <cstring>
#include <stdexcept>

#include "../kvm/translate.h"

namespace kvmsim {
namespace {

struct Fragment {
    Gpa gpa;
    unsigned offset;  // within the access
    unsigned len;
};

// emulator_read_write() splits an access at the page boundary of its address (paging off:
// gva == gpa) into at most two fragments, first page first.
std::array<Fragment, 2> split_at_page(Gpa gpa, unsigned size, unsigned& count) {
    const std::uint64_t first = std::min<std::uint64_t>(size, PAGE_SIZE - offset_in_page(gpa.value()));
    if (first == size) {
        count = 1;
        return {Fragment{gpa, 0, size}, Fragment{}};
    }
    count = 2;
    return {Fragment{gpa, 0, static_cast<unsigned>(first)},
            Fragment{gpa + first, static_cast<unsigned>(first), static_cast<unsigned>(size - first)}};
}

VcpuEvent mmio_exit(Gpa gpa, unsigned len, bool is_write, const std::uint8_t* data) {
    VcpuEvent e;
    e.kind = VcpuEvent::Kind::Exit;
    e.exit = Exit::Mmio;
    e.mmio.phys_addr = gpa;
    e.mmio.len = len;
    e.mmio.is_write = is_write;
    if (is_write) std::memcpy(e.mmio.data.data(), data, len);
    return e;
}

// models emulator_read_write() with emulator_read_write_onepage(), arch/x86/kvm/x86.c: each
// fragment is tried as guest memory first (kvm_vcpu_read_guest / emulator_write_phys); any
// failure there, a hole, a read-only slot for a write, or a host copy that faults, makes the
// fragment MMIO, which exits to userspace in pieces of at most 8 bytes.
void emulate_access(kvm& kvm, kvm_vcpu& vcpu, const GuestAccess& a, GuestAccessResult& out) {
    std::array<std::uint8_t, 8> bytes{};
    if (a.type == AccessType::Write) std::memcpy(bytes.data(), &a.data, a.size);
    unsigned nfrag = 0;
    const auto frags = split_at_page(a.gpa, a.size, nfrag);
    std::array<bool, 2> needs_mmio{};
    for (unsigned i = 0; i < nfrag; ++i) {
        const Fragment& f = frags[i];
        std::span<std::uint8_t> piece(bytes.data() + f.offset, f.len);
        const KvmResult r = a.type == AccessType::Read ? kvm_vcpu_read_guest(kvm, vcpu, f.gpa, piece)
                                                       : kvm_vcpu_write_guest(kvm, vcpu, f.gpa, piece);
        needs_mmio[i] = !r.is_ok();
        kvm.trace().emit(a.type == AccessType::Read ? "emulator_read_write_onepage" : "emulator_write_phys", [&] {
            return "gpa " + hex(f.gpa.value()) + " len " + std::to_string(f.len) +
                   (r.is_ok() ? ": guest memory" : ": guest memory refused -> MMIO fragment");
        });
    }
    for (unsigned i = 0; i < nfrag; ++i) {
        if (!needs_mmio[i]) continue;
        const Fragment& f = frags[i];
        // complete_emulated_mmio(): exits of min(8, len) bytes each, in address order.
        out.events.push_back(mmio_exit(f.gpa, f.len, a.type == AccessType::Write, bytes.data() + f.offset));
        if (a.type == AccessType::Read) std::memcpy(bytes.data() + f.offset, a.mmio_reply.data() + f.offset, f.len);
    }
    out.completed = true;
    if (a.type == AccessType::Read) std::memcpy(&out.data, bytes.data(), a.size);
}

VcpuEvent run_error(Errno e) {
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::RunError;
    ev.error = e;
    return ev;
}

}  // namespace

// models the EPT-violation / NPF / shadow #PF path for one guest access:
// kvm_mmu_page_fault() -> kvm_mmu_faultin_pfn() -> kvm_handle_error_pfn() / kvm_handle_noslot_fault(),
// arch/x86/kvm/mmu/mmu.c. Pages are faulted in order; the first that cannot be mapped decides,
// and a page that is emulated hands the whole access to the emulator: the later page is then
// never faulted in, only written by the emulator's copy (so a host fault there becomes MMIO).
GuestAccessResult x86_guest_access(kvm& kvm, kvm_vcpu& vcpu, const PlatformOptions& platform, const GuestAccess& a) {
    GuestAccessResult out;
    if (platform.emulates_every_access) {
        // PVM: every instruction is emulated, so guest memory is only ever reached through
        // the emulator's copies (reference section 4.4).
        emulate_access(kvm, vcpu, a, out);
        return out;
    }
    const bool write = a.type == AccessType::Write;
    bool emulate = false;
    unsigned nfrag = 0;
    const auto frags = split_at_page(a.gpa, a.size, nfrag);
    for (unsigned i = 0; i < nfrag; ++i) {
        const Gfn gfn = gpa_to_gfn(frags[i].gpa);
        const kvm_memory_slot* slot = kvm.vcpu_gfn_to_memslot(vcpu, gfn);
        const PfnLookup pfn = gfn_to_pfn_memslot_inner(kvm, slot, gfn, {.write = write, .want_writable = !write});
        if (pfn.ok()) continue;
        switch (*pfn.error) {
        case PfnError::Noslot:
        case PfnError::Bad:
            // No memslot: emulate; the emulator turns the access into KVM_EXIT_MMIO.
            kvm.trace().emit("kvm_handle_noslot_fault", [&] { return "gfn " + hex(gfn.value()) + ": no memslot -> emulate as MMIO"; });
            emulate = true;
            break;
        case PfnError::RoFault:
            // Do not cache the MMIO info of a write to a read-only slot as an MMIO spte:
            // later reads of the same gfn must still read memory. Emulate just this write.
            kvm.trace().emit("kvm_handle_error_pfn", [&] { return "gfn " + hex(gfn.value()) + ": KVM_PFN_ERR_RO_FAULT -> RET_PF_EMULATE"; });
            emulate = true;
            break;
        case PfnError::Hwpoison: {
            // kvm_send_hwpoison_signal(): SIGBUS BUS_MCEERR_AR at the page's hva, then the fault
            // is retried and the pending signal makes KVM_RUN return -EINTR. It looks the hva up
            // with a write translation, so for a read-only slot si_addr is KVM_HVA_ERR_RO_BAD.
            VcpuEvent ev;
            ev.kind = VcpuEvent::Kind::Signal;
            ev.signal = Signal::Sigbus;
            ev.signal_addr = gfn_to_hva_many(kvm, slot, gfn).hva;
            kvm.trace().emit("kvm_handle_error_pfn", [&] { return "gfn " + hex(gfn.value()) + ": KVM_PFN_ERR_HWPOISON -> SIGBUS (BUS_MCEERR_AR)"; });
            out.events.push_back(ev);
            return out;
        }
        case PfnError::Fault:
        case PfnError::Sigpending:
            // A plain -EFAULT: no KVM_EXIT_MEMORY_FAULT is filled for a shared-memory fault.
            kvm.trace().emit("kvm_handle_error_pfn", [&] { return "gfn " + hex(gfn.value()) + ": " + std::string(to_string(*pfn.error)) + " -> KVM_RUN returns -EFAULT"; });
            out.events.push_back(run_error(Errno::Efault));
            return out;
        }
        // kvm_mmu_page_fault(): RET_PF_EMULATE -> x86_emulate_instruction() for the whole access.
        if (emulate) break;
    }
    if (emulate) {
        emulate_access(kvm, vcpu, a, out);
        return out;
    }
    // Every page mapped: the CPU performs the access itself.
    std::array<std::uint8_t, 8> bytes{};
    std::memcpy(bytes.data(), &a.data, a.size);
    for (unsigned i = 0; i < nfrag; ++i) {
        const Fragment& f = frags[i];
        std::span<std::uint8_t> piece(bytes.data() + f.offset, f.len);
        const KvmResult r = write ? kvm_vcpu_write_guest(kvm, vcpu, f.gpa, piece) : kvm_vcpu_read_guest(kvm, vcpu, f.gpa, piece);
        if (!r.is_ok()) throw std::logic_error("a mapped page refused the CPU's access");
    }
    out.completed = true;
    if (!write) std::memcpy(&out.data, bytes.data(), a.size);
    return out;
}

}  // namespace kvmsim
