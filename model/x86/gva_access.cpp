#include "gva_access.h"

#include <cstring>
#include <variant>

#include "../kvm/translate.h"
#include "guest_access.h"
#include "x86_arch.h"

namespace kvmsim {

GuestCpuid guest_cpuid(Platform p, const HostDescription& host) {
    // Probed on the reference host: KVM_GET_SUPPORTED_CPUID reports 48 physical address bits
    // (0x80000008 EAX 0x3030) and no 1G pages (0x80000001 EDX bit 26 clear), although the host
    // CPU has them. Other hosts of the same platform differ (46 bits): the host description says.
    GuestCpuid c = p == Platform::Pvm ? GuestCpuid{.maxphyaddr = 48, .gbpages = false, .amd = false}
                                      : GuestCpuid{.maxphyaddr = platform_options(p).host_maxphyaddr, .gbpages = true, .amd = p == Platform::Svm};
    if (host.guest_maxphyaddr) c.maxphyaddr = *host.guest_maxphyaddr;
    return c;
}

const HostDescription& host_of(const kvm& k) {
    static const HostDescription defaults{};
    const auto* x86 = dynamic_cast<const X86Arch*>(&k.arch());
    return x86 ? x86->host() : defaults;
}

namespace {

// A translation ends in a gpa, a fault for the guest, or an event for userspace.
using Translation = std::variant<Gpa, x86_exception, VcpuEvent>;

VcpuEvent exception_event(const x86_exception& e) {
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::Exception;
    ev.exception = {e.vector, e.error_code, e.vector == x86::kPfVector || e.vector == x86::kDfVector ? e.address.value() : 0};
    return ev;
}

VcpuEvent exit_event(Exit exit) {
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::Exit;
    ev.exit = exit;
    return ev;
}

VcpuEvent efault_event() {
    VcpuEvent ev;
    ev.kind = VcpuEvent::Kind::RunError;
    ev.error = Errno::Efault;
    return ev;
}

struct Mmu {
    kvm& k;
    kvm_vcpu& vcpu;
    Platform platform;
    const X86PagingState& state;
    GuestCpuid cpuid;
    std::vector<guest_walker>& walks;

    Translation finish(const guest_walker& w) {
        walks.push_back(w);
        if (w.fault) return *w.fault;
        return w.gpa;
    }

    // models FNAME(page_fault)() -> FNAME(walk_addr)(), arch/x86/kvm/mmu/paging_tmpl.h, and the
    // emulator's gva_to_gpa: with shadow paging KVM walks the guest's tables itself.
    Translation shadow(Gva gva, WalkAccess a) { return finish(walk_addr_generic(k, vcpu, state, cpuid, gva, a)); }

    // With EPT / NPT the CPU walks the guest's tables, reading each through the second-level
    // tables: a table the host cannot back ends KVM_RUN with -EFAULT (the hardware fault path
    // of kvm_faultin_pfn(), arch/x86/kvm/mmu/mmu.c), a table with no slot is emulated, and the
    // emulator's software walk raises the #PF.
    Translation tdp(Gva gva, WalkAccess a) {
        const AdWriter cpu = platform == Platform::Svm ? AdWriter::NptHardware : AdWriter::EptHardware;
        // A look ahead at what the CPU's walk will touch; the trace shows only the walk that counts.
        const bool tracing = k.trace().enabled();
        k.trace().enable(false);
        const guest_walker dry = walk_addr_generic(k, vcpu, state, cpuid, gva, a, {.ad_writer = cpu, .dry_run = true, .before_cmpxchg = {}});
        k.trace().enable(tracing);
        if (cpu == AdWriter::NptHardware)
            if (auto stop = npt_table_accesses(gva, a, dry)) return *stop;
        bool needs_ro_ad = false;
        for (unsigned level = dry.level; level <= dry.max_level && level >= 1; ++level) {
            const WalkLevel& l = dry.levels[level - 1];
            if (l.from_pdptr) continue;
            if (l.read_error == PteReadError::HostCopyFailed) {
                const PfnLookup pfn = gfn_to_pfn_memslot_inner(k, k.vcpu_gfn_to_memslot(vcpu, l.table_gfn), l.table_gfn, {});
                k.trace().emit("kvm_faultin_pfn", [&] {
                    return "the CPU's read of the page table at gpa " + hex(l.pte_gpa.value()) + " faults in the second-level tables: " +
                           std::string(pfn.error ? to_string(*pfn.error) : "ok") + " -> KVM_RUN returns -EFAULT";
                });
                return efault_event();
            }
            const bool need_a = !(l.pte & x86::PTE_A);
            const bool need_d = level == dry.level && a.write && !(l.pte & x86::PTE_D);
            if (!dry.fault && !l.pte_writable && (need_a || need_d)) needs_ro_ad = true;
        }
        if (needs_ro_ad && cpu == AdWriter::NptHardware) {
            // "NPT does not allow this at all and faults, since it always wants nested page
            // table entries for the guest page tables to be writable" (the seed patch's comment
            // in update_accessed_dirty_bits()): the NPF on a read-only slot is KVM_PFN_ERR_RO_FAULT,
            // which kvm_handle_error_pfn() hands to the emulator, whose software walk decides.
            k.trace().emit("npf_interception", [&] {
                return "NPT: the CPU must set accessed/dirty bits in a page table in a read-only slot, and the nested page "
                       "table maps it read-only -> NPF -> KVM_PFN_ERR_RO_FAULT -> emulate the instruction";
            });
            return shadow(gva, a);
        }
        if (dry.fault && dry.why == WalkFault::PteUnreadable) {
            k.trace().emit("kvm_mmu_page_fault", [&] { return "a page table has no memslot: the CPU's walk exits, KVM emulates and its software walk decides"; });
            return shadow(gva, a);
        }
        k.trace().emit(cpu == AdWriter::NptHardware ? "npt" : "ept", [&] {
            return "the CPU walks the guest's page tables itself; the lines below show its walk in the software walker's terms";
        });
        return finish(walk_addr_generic(k, vcpu, state, cpuid, gva, a, {.ad_writer = cpu, .dry_run = false, .before_cmpxchg = {}}));
    }

    // AMD's nested paging treats every access of the guest's page-table walk as a write: "NPT
    // ... always wants nested page table entries for the guest page tables to be writable" (the
    // comment in FNAME(update_accessed_dirty_bits)(), paging_tmpl.h; QEMU's ptw_translate() probes
    // them with MMU_DATA_STORE). Each table page the walk reads, top down, therefore takes a
    // write NPF unless its nested entry is writable already (kvm_tdp_page_fault(), mmu.c): in a
    // read-only slot that is KVM_PFN_ERR_RO_FAULT and the instruction is emulated; a host page
    // the VMM cannot write fails KVM_RUN with -EFAULT (hva_to_pfn() with FOLL_WRITE, then
    // kvm_handle_error_pfn()); otherwise the nested entry becomes writable and the table page is
    // marked dirty (mark_page_dirty_in_slot()), on every walk after dirty logging write-protected
    // it again. Checked on Debian's 6.1 and 6.12 under QEMU (ad-second-touch, ad-write-fails-prot-read).
    std::optional<Translation> npt_table_accesses(Gva gva, WalkAccess a, const guest_walker& dry) {
        for (unsigned level = dry.max_level; level >= dry.level && level >= 1; --level) {
            const WalkLevel& l = dry.levels[level - 1];
            if (l.from_pdptr) continue;  // no memory read
            if (l.read_error) {
                // The table has no memslot (or no host memory): the checks after this loop decide,
                // after the CPU used the entries above it.
                cpu_sets_accessed_above(dry, level);
                return std::nullopt;
            }
            if (l.slot_readonly) {
                cpu_sets_accessed_above(dry, level);
                return emulate_npf(gva, a, l.pte_gpa);
            }
            const vm_area_struct* vma = k.mm().find_vma(l.ptep_user);
            if (!vma || !check_vma_flags(*vma, GupFlags{.write = true}).is_ok()) {
                cpu_sets_accessed_above(dry, level);
                k.trace().emit("kvm_faultin_pfn", [&] {
                    return "NPT: the CPU's walk needs the page table at gpa " + hex(l.pte_gpa.value()) +
                           " writable in the nested tables, and the VMM's mapping of it is not writable -> KVM_RUN returns -EFAULT";
                });
                return efault_event();
            }
            k.mark_page_dirty_in_slot(k.vcpu_gfn_to_memslot(vcpu, l.table_gfn), l.table_gfn);
        }
        return std::nullopt;
    }

    // The CPU sets the accessed bit of each entry it used as it walks (SDM 4.8, APM 5.4.2), so
    // when its walk stops at the table of `stop_level` with an NPF, the entries above that
    // pointed there already have A (the nested entries of their tables are writable by then).
    // Seen on Debian's 6.1 and 6.12 under QEMU (pt-in-hole, ro-slot-before-patch-pf).
    void cpu_sets_accessed_above(const guest_walker& dry, unsigned stop_level) {
        const unsigned pte_size = paging_mode_info(dry.mode).pte_size;
        for (unsigned level = dry.max_level; level > stop_level; --level) {
            const WalkLevel& l = dry.levels[level - 1];
            if (l.from_pdptr || l.read_error || (l.pte & x86::PTE_A)) continue;
            const std::uint64_t with_a = l.pte | x86::PTE_A;
            std::array<std::uint8_t, 8> buf{};
            std::memcpy(buf.data(), &with_a, pte_size);
            if (!k.mm().access_mapped(l.ptep_user, std::span(buf.data(), pte_size), true)) continue;
            k.trace().emit("npt", [&] {
                return std::string(level_name(dry.mode, level)) + " at gpa " + hex(l.pte_gpa.value()) + ": the CPU sets A (" + hex(l.pte) + " -> " + hex(with_a) +
                       ") before its walk stops at the next table";
            });
        }
    }

    // models x86_emulate_instruction() with EMULTYPE_PF after an NPF, arch/x86/kvm/x86.c: with a
    // direct MMU the fault address is a gpa (ctxt->gpa_available), and emulator_read_write_onepage()
    // uses it for a memory operand at the same page offset, skipping the walk. After an NPF on
    // a page-table access that gpa is the table entry's, so the instruction reads or writes the
    // table (Debian's 6.1 and 6.12 under QEMU: a read returns the PDPTE, a store to it in a
    // read-only slot exits as MMIO there).
    Translation emulate_npf(Gva gva, WalkAccess a, Gpa npf_gpa) {
        k.trace().emit("npf_interception", [&] {
            return "NPT: the CPU's walk needs the page table at gpa " + hex(npf_gpa.value()) +
                   " writable, and it is in a read-only slot -> KVM_PFN_ERR_RO_FAULT -> emulate the instruction";
        });
        if (offset_in_page(gva.value()) == offset_in_page(npf_gpa.value())) {
            k.trace().emit("emulator_read_write_onepage", [&] {
                return "gva " + hex(gva.value()) + " has the page offset of the NPF's gpa " + hex(npf_gpa.value()) + ": the operand uses that gpa, no walk";
            });
            return npf_gpa;
        }
        return shadow(gva, a);
    }

    Translation translate(Gva gva, WalkAccess a) {
        if (platform_options(platform).tdp) return tdp(gva, a);
        return shadow(gva, a);
    }

    // Delivers an exception through the guest's IDT (kvm_multiple_exception(),
    // arch/x86/kvm/x86.c): a #PF while reading the gate becomes #DF, and a fault while
    // delivering #DF is a triple fault, which KVM reports as KVM_EXIT_SHUTDOWN.
    VcpuEvent deliver(x86_exception e) {
        if (!state.idt_base) {
            // Without the IDT's address the model cannot follow delivery, except when the
            // root table itself is unusable: then no address translates, the IDT's included,
            // so #PF, #DF and the triple fault follow whatever the IDT base (probe G25).
            const bool root_unusable = !walks.empty() && walks.back().fault && walks.back().why == WalkFault::PteUnreadable &&
                                       walks.back().level == walks.back().max_level && walks.back().mode != PagingMode::Pae;
            if (!root_unusable) return exception_event(e);
            k.trace().emit("kvm_multiple_exception", [&] {
                return "the root table cannot be read, so neither can the IDT: #PF -> #DF -> triple fault -> KVM_EXIT_SHUTDOWN";
            });
            return exit_event(Exit::Shutdown);
        }
        const unsigned gate = paging_mode(state) == PagingMode::Level4 || paging_mode(state) == PagingMode::Level5 ? 16 : 8;
        for (int tries = 0; tries < 2; ++tries) {
            const Gva gate_gva = *state.idt_base + std::uint64_t{e.vector} * gate;
            k.trace().emit("kvm_inject_exception", [&] {
                return "deliver vector " + std::to_string(e.vector) + ": read its IDT gate at gva " + hex(gate_gva.value());
            });
            const Translation t = translate(gate_gva, {});
            if (std::holds_alternative<Gpa>(t)) return exception_event(e);
            if (const auto* ev = std::get_if<VcpuEvent>(&t)) return *ev;
            if (e.vector == x86::kDfVector) break;
            k.trace().emit("kvm_multiple_exception", [&] { return "a #PF while delivering a #PF -> #DF"; });
            e = {x86::kDfVector, 0, std::get<x86_exception>(t).address};
        }
        k.trace().emit("kvm_multiple_exception", [&] { return "a fault while delivering #DF: triple fault -> KVM_EXIT_SHUTDOWN"; });
        return exit_event(Exit::Shutdown);
    }
};

struct Fragment {
    Gva gva;
    unsigned offset;
    unsigned len;
    Gpa gpa;
};

}  // namespace

GvaAccessResult x86_guest_access_gva(kvm& k, kvm_vcpu& vcpu, Platform platform, const X86PagingState& state, const GvaAccess& a) {
    GvaAccessResult out;
    GuestAccessResult& res = out.access;
    const PagingMode mode = paging_mode(state);
    // PVM: supervisor code is run by KVM's emulator, user code by the CPU on shadow page tables.
    PlatformOptions opts = platform_options(platform);
    if (platform == Platform::Pvm && a.cpl == 3) opts.emulates_every_access = false;
    const bool emulated = opts.emulates_every_access;
    Mmu mmu{k, vcpu, platform, state, guest_cpuid(platform, host_of(k)), out.walks};
    const WalkAccess wa{.write = a.type == GvaAccessType::Write, .user = a.cpl == 3, .fetch = a.type == GvaAccessType::Fetch};

    if (platform == Platform::Pvm && (mode == PagingMode::Bits32 || mode == PagingMode::Pae)) {
        // Probed on this machine: with 32-bit or PAE paging on, KVM_RUN returns
        // KVM_EXIT_SHUTDOWN before the first instruction, and no guest entry is touched; PVM
        // runs paged guests in long mode only (tests/kvm/page_walk_replay_test).
        k.trace().emit("pvm", [&] { return "PVM runs paged guests in long mode only: " + std::string(paging_mode_info(mode).name) + " paging -> KVM_EXIT_SHUTDOWN"; });
        res.events.push_back(exit_event(Exit::Shutdown));
        return out;
    }
    if (mode != PagingMode::None && !is_canonical(mode, a.gva)) {
        // A non-canonical address is refused before any walk: #GP(0), not #PF.
        res.events.push_back(exception_event({x86::kGpVector, 0, a.gva}));
        return out;
    }
    if (platform == Platform::Pvm && a.cpl == 3 && mode != PagingMode::None && a.gva.value() >= 0xffff800000000000ULL &&
        a.gva.value() <= 0xffff807fffffffffULL) {
        // PVM keeps PML4 slot 256 for itself; user accesses there fault without a walk (probed).
        std::uint32_t ec = x86::PFERR_USER | (wa.write ? x86::PFERR_WRITE : 0);
        if (wa.fetch && ((state.efer & x86::EFER_NXE) || (state.cr4 & x86::CR4_SMEP))) ec |= x86::PFERR_FETCH;
        k.trace().emit("pvm", [&] { return "gva " + hex(a.gva.value()) + " is in PVM's own PML4 slot 256: #PF without a walk"; });
        res.events.push_back(mmu.deliver({x86::kPfVector, ec, a.gva}));
        return out;
    }

    // The access splits at the page boundary of its virtual address; each page is translated.
    std::array<Fragment, 2> frags{};
    const unsigned first = static_cast<unsigned>(std::min<std::uint64_t>(a.size, PAGE_SIZE - offset_in_page(a.gva.value())));
    frags[0] = {a.gva, 0, first, Gpa()};
    const unsigned nfrag = first == a.size ? 1 : 2;
    if (nfrag == 2) frags[1] = {a.gva + first, first, a.size - first, Gpa()};

    std::array<std::uint8_t, 8> bytes{};
    std::memcpy(bytes.data(), &a.data, a.size);
    // Runs one translated fragment at its gpa through the existing guest-physical path.
    auto perform = [&](const Fragment& f) -> bool {
        if (a.type == GvaAccessType::Fetch) {
            const KvmResult r = kvm_vcpu_read_guest(k, vcpu, f.gpa, std::span(bytes.data() + f.offset, f.len));
            if (r.is_ok()) return true;
            const bool noslot = !k.vcpu_gfn_to_memslot(vcpu, gpa_to_gfn(f.gpa));
            // The emulator cannot fetch instructions from MMIO: emulation fails (probed: G13).
            k.trace().emit("x86_emulate_instruction", [&] {
                return "instruction fetch at gpa " + hex(f.gpa.value()) + (noslot || emulated ? " is not guest memory -> emulation failure, KVM_EXIT_INTERNAL_ERROR" : ": host memory missing -> -EFAULT");
            });
            res.events.push_back(noslot || emulated ? exit_event(Exit::InternalError) : efault_event());
            return false;
        }
        GuestAccess g;
        g.gpa = f.gpa;
        g.size = f.len;
        g.type = a.type == GvaAccessType::Write ? AccessType::Write : AccessType::Read;
        std::memcpy(&g.data, bytes.data() + f.offset, f.len);
        std::memcpy(g.mmio_reply.data(), a.mmio_reply.data() + f.offset, f.len);
        const GuestAccessResult r = x86_guest_access(k, vcpu, opts, g);
        res.events.insert(res.events.end(), r.events.begin(), r.events.end());
        if (!r.completed) return false;
        if (g.type == AccessType::Read) std::memcpy(bytes.data() + f.offset, &r.data, f.len);
        return true;
    };

    // emulator_read_write(), arch/x86/kvm/x86.c: each page is translated and its guest memory
    // read or written at once, but MMIO parts are only queued (vcpu->mmio_fragments) and exit
    // after the last page translated. A fault on the second page therefore keeps a first
    // page's store to RAM and drops its MMIO exit, which userspace never sees (found by
    // `kvmsim fuzz` against this machine's kernel).
    const std::size_t queued_from = res.events.size();
    for (unsigned i = 0; i < nfrag; ++i) {
        Fragment& f = frags[i];
        if (mode == PagingMode::None) {
            f.gpa = Gpa(f.gva.value());
        } else {
            const Translation t = mmu.translate(f.gva, wa);
            if (emulated && !std::holds_alternative<Gpa>(t)) res.events.resize(queued_from);
            if (const auto* e = std::get_if<x86_exception>(&t)) {
                res.events.push_back(mmu.deliver(*e));
                return out;
            }
            if (const auto* ev = std::get_if<VcpuEvent>(&t)) {
                res.events.push_back(*ev);
                return out;
            }
            f.gpa = std::get<Gpa>(t);
        }
        // The CPU, unlike the emulator, translates both pages before it stores anything.
        if (emulated && !perform(f)) return out;
    }
    if (!emulated)
        for (unsigned i = 0; i < nfrag; ++i)
            if (!perform(frags[i])) return out;
    res.completed = true;
    if (a.type != GvaAccessType::Write) std::memcpy(&res.data, bytes.data(), a.size);
    return out;
}

}  // namespace kvmsim
