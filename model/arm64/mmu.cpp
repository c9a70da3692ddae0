// Stage-2 aborts: kvm_handle_guest_abort() and user_mem_abort(), arch/arm64/kvm/mmu.c, with the
// CCA series' realm changes and the lock RFC's warnings.
#include <algorithm>
#include <cstring>
#include <span>
#include <string>

#include "../kvm/translate.h"
#include "guest_access.h"
#include "mmio.h"
#include "realm.h"
#include "stage2_huge.h"

namespace kvmsim {
namespace {

bool permits(const Stage2Prot& p, Arm64AccessKind k) {
    switch (k) {
    case Arm64AccessKind::Read: return p.r;
    case Arm64AccessKind::Write: return p.w;
    case Arm64AccessKind::Fetch: return p.x;
    }
    return false;
}

// Stage-2 permission an access needs: a CAS reads and writes; DC CIVAC is checked as a read
// (only DC IVAC would need write permission).
bool stage2_permits(const Stage2Prot& p, const Arm64GuestAccess& a) {
    if (a.op == Arm64DataOp::CompareAndSwap) return p.r && p.w;
    return permits(p, a.cache_maintenance ? Arm64AccessKind::Read : a.kind);
}

// The bytes of host memory behind `ipa` through a mapping, read or written.
bool stage2_bytes(kvm& vm, Arm64Arch& arch, const Stage2Pte& pte, Gpa ipa, std::span<std::uint8_t> buf, bool write) {
    if (pte.realm_protected) {
        arch.realm_granule_access(ipa, buf, write);
        return true;
    }
    return vm.mm().access_mapped(pte.hva + offset_in_page(ipa.value()), buf, write);
}

// A CAS or DC ZVA the CPU completes through a mapping with read and write permission.
void data_op_through_stage2(kvm& vm, Arm64Arch& arch, const Stage2Pte& pte, const Arm64GuestAccess& a, GuestAccessResult& out) {
    if (a.op == Arm64DataOp::ZeroBlock) {
        std::array<std::uint8_t, 2048> zeros{};  // DCZID_EL0.BS is at most 9: 2 KiB
        const std::uint64_t block = std::min<std::uint64_t>(a.zva_block, zeros.size());
        const Gpa base(a.ipa.value() & ~(block - 1));
        if (!stage2_bytes(vm, arch, pte, base, std::span(zeros.data(), block), true)) return out.events.push_back(run_error(Errno::Efault));
        out.completed = true;
        return;
    }
    std::uint64_t old = 0;
    if (!stage2_bytes(vm, arch, pte, a.ipa, std::span(reinterpret_cast<std::uint8_t*>(&old), a.size), false)) return out.events.push_back(run_error(Errno::Efault));
    if (old == a.compare) {
        std::uint64_t v = a.data;
        if (!stage2_bytes(vm, arch, pte, a.ipa, std::span(reinterpret_cast<std::uint8_t*>(&v), a.size), true)) return out.events.push_back(run_error(Errno::Efault));
    }
    out.completed = true;
    out.data = old;
}

// The CPU completes the access through a stage-2 mapping: no exit, no KVM involvement.
void access_through_stage2(kvm& vm, Arm64Arch& arch, const Stage2Pte& pte, const Arm64GuestAccess& a, GuestAccessResult& out) {
    std::array<std::uint8_t, 8> buf{};
    const bool write = a.kind == Arm64AccessKind::Write;
    if (a.cache_maintenance) {  // cleans and invalidates the line: nothing the model keeps changes
        out.completed = true;
        return;
    }
    if (a.op != Arm64DataOp::LoadStore) return data_op_through_stage2(vm, arch, pte, a, out);
    if (write) std::memcpy(buf.data(), &a.data, a.size);
    if (pte.realm_protected) {
        arch.realm_granule_access(a.ipa, std::span(buf.data(), a.size), write);
        out.completed = true;
        if (!write) std::memcpy(&out.data, buf.data(), a.size);
        return;
    }
    if (!vm.mm().access_mapped(pte.hva + offset_in_page(a.ipa.value()), std::span(buf.data(), a.size), write)) {
        out.events.push_back(run_error(Errno::Efault));
        return;
    }
    out.completed = true;
    if (!write) std::memcpy(&out.data, buf.data(), a.size);
}

struct Fault {
    bool translation = false;    // no stage-2 entry (else: a permission fault)
    bool write_fault = false;    // kvm_is_write_fault()
    bool exec_fault = false;     // an instruction abort
    bool realm_private = false;  // a realm's fault in the protected half of its IPA space
};

// models user_mem_abort(), arch/arm64/kvm/mmu.c
void user_mem_abort(kvm& vm, Arm64Arch& arch, kvm_memory_slot* slot, Gfn gfn, Gfn map_gfn, Fault f, const Arm64GuestAccess& a,
                    GuestAccessResult& out) {
    // Nothing added to `out` means the fault was resolved and the access is retried.
    const Profile& profile = vm.profile();
    if (f.realm_private && profile.has(Patch::CcaPrivateNeedsGmem)) {
        // v12 24/46: protected memory must come from guest_memfd; a plain memslot behind a
        // protected IPA is refused (kvmsim models no guest_memfd slots).
        vm.trace().emit("user_mem_abort", [] { return std::string("realm: protected IPA backed by a memslot without guest_memfd -> KVM_RUN returns -EINVAL"); });
        out.events.push_back(run_error(Errno::Einval));
        return;
    }
    if (arch.is_realm() && profile.has(Patch::CcaRuntimeFault)) {
        // "Realms cannot map protected pages read-only" (CCA v7 21/45): every REC fault asks for a writable page.
        if (!f.write_fault) vm.trace().emit("user_mem_abort", [] { return std::string("realm: write_fault forced true"); });
        f.write_fault = true;
    }
    if (!f.translation && !f.write_fault && !f.exec_fault) {
        vm.trace().emit("user_mem_abort", [] { return std::string("Unexpected L2 read permission error -> KVM_RUN returns -EFAULT"); });
        out.events.push_back(run_error(Errno::Efault));
        return;
    }
    const Hva hva = gfn_to_hva_memslot_prot(vm, slot, gfn).hva;
    // memslot_is_logging(): a dirty bitmap on a writable slot.
    const bool logging = !slot->dirty_bitmap.empty() && !memslot_is_readonly(*slot);
    const PfnLookup pfn = gfn_to_pfn_memslot_inner(vm, slot, gfn, {.write = f.write_fault, .want_writable = !f.write_fault});
    if (pfn.error == PfnError::Hwpoison) {
        VcpuEvent ev;
        ev.kind = VcpuEvent::Kind::Signal;
        ev.signal = Signal::Sigbus;
        ev.signal_addr = hva;
        vm.trace().emit("user_mem_abort", [] { return std::string("KVM_PFN_ERR_HWPOISON -> kvm_send_hwpoison_signal (SIGBUS)"); });
        out.events.push_back(ev);
        return;
    }
    if (pfn.error) {
        vm.trace().emit("user_mem_abort", [&] { return std::string(to_string(*pfn.error)) + " -> KVM_RUN returns -EFAULT"; });
        out.events.push_back(run_error(Errno::Efault));
        return;
    }
    bool writable = pfn.writable;
    // Only map writable on a write fault while logging, so the first write faults and is logged.
    if (logging && !f.write_fault) writable = false;
    const vm_area_struct* vma = vm.mm().find_vma(hva);
    if (f.exec_fault && vma && vma->is_pfnmap()) {
        vm.trace().emit("user_mem_abort", [] { return std::string("exec fault on device memory -> prefetch abort injected"); });
        out.events.push_back(inject_abort(ESR_ELx_EC_IABT_CUR, a.far ? Gpa(a.far->value()) : a.ipa));
        return;
    }
    if (arch.is_realm() && profile.has(Patch::CcaRealm) && !writable) {
        // realm_map_ipa(): the RMM has no way to map a granule without write permission.
        vm.trace().emit("realm_map_ipa", [] { return std::string("WARN_ON(!(prot & KVM_PGTABLE_PROT_W)) -> KVM_RUN returns -EFAULT"); });
        out.events.push_back(run_error(Errno::Efault));
        return;
    }
    const Stage2Prot prot{.r = true, .w = writable, .x = f.exec_fault};
    // vma_pagesize against fault_granule: a permission fault on an entry of the size KVM would
    // map now only relaxes it; otherwise the new mapping replaces it (a block forced down to a
    // page while logging is split, the rest of it unmapped).
    std::uint64_t vma_pagesize = f.realm_private ? PAGE_SIZE : stage2_vma_pagesize(*slot, vma, hva, logging);
    const Stage2Pte* old = arch.stage2().lookup(map_gfn);
    const std::uint64_t fault_granule = old && old->level < 3 ? std::uint64_t{1} << HPAGE_PMD_SHIFT : PAGE_SIZE;
    // A page-size fault, not forced to pages and not device memory: a permission fault on a
    // block keeps the block's size, anything else may still be a THP block.
    const bool thp_candidate = vma_pagesize == PAGE_SIZE && !logging && !f.realm_private && !(vma && vma->is_pfnmap());
    if (thp_candidate) vma_pagesize = !f.translation && fault_granule > PAGE_SIZE ? fault_granule : transparent_hugepage_adjust(*slot, vm.mm(), hva);
    const bool relax = !f.translation && fault_granule == vma_pagesize;
    if (vma_pagesize > PAGE_SIZE && !relax) {
        // A block: fault_ipa rounded down to it; the hugetlb or transparent huge page is one
        // folio, so every page of it is present once one is.
        const std::uint64_t pages = vma_pagesize / PAGE_SIZE;
        const Gfn first(map_gfn.value() & ~(pages - 1));
        const Hva base(hva.value() & ~(vma_pagesize - 1));
        std::optional<Pfn> head;
        for (std::uint64_t i = 0; i < pages; ++i) {
            const GupResult g = vm.mm().get_user_page(base + i * PAGE_SIZE, false);
            if (!g.pfn) {
                vm.trace().emit("user_mem_abort", [] { return std::string("a page of the huge page could not be reached -> KVM_RUN returns -EFAULT"); });
                out.events.push_back(run_error(Errno::Efault));
                return;
            }
            if (i == 0) head = g.pfn;
        }
        arch.stage2().map_block(first, pages, Stage2Pte{base, *head, prot, false, 2});
        vm.trace().emit("user_mem_abort", [&] {
            return std::string(vma && vma->backing == Backing::Hugetlb ? "hugetlb VMA" : "transparent huge page") + ", the slot can hold the block: mapped ipa " + hex(gfn_to_gpa(first).value()) + " as a 2M block (level 2) " + (writable ? "RW" : "R") +
                   (f.exec_fault ? "X" : "");
        });
        if (writable) vm.mark_page_dirty_in_slot(slot, gfn);
        return;
    }
    if (relax) {
        arch.stage2().relax(map_gfn, prot);
    } else {
        // realm_map_ipa(): a protected IPA gets a granule the RMM zeroes (realm_map_protected());
        // an unprotected one maps the slot's page (realm_map_non_secure()).
        arch.stage2().map(map_gfn, Stage2Pte{hva, pfn.pfn, prot, f.realm_private});
        if (f.realm_private)
            vm.trace().emit("realm_map_protected", [] { return std::string("protected granule created; the RMM zeroes it (DATA_CREATE_UNKNOWN)"); });
    }
    vm.trace().emit("user_mem_abort", [&] {
        return std::string(f.translation ? "mapped" : "permissions relaxed") + " ipa page " + hex(gfn_to_gpa(map_gfn).value()) + " " +
               (writable ? "RW" : "R") + (f.exec_fault ? "X" : "");
    });
    if (writable) vm.mark_page_dirty_in_slot(slot, gfn);
    // Resolved: the vCPU retries the access (arm64_guest_access() loops).
}

// models kvm_is_write_fault(), arch/arm64/include/asm/kvm_emulate.h
bool kvm_is_write_fault(const Profile& profile, const Arm64GuestAccess& a, Stage2FaultKind kind) {
    // A stage-1 walk: before "Fix S1PTW handling on RO memslots" always a write (the walker might
    // update access flags); since, only a permission fault is.
    if (a.s1ptw) return profile.has(Patch::Arm64S1ptwRoFix) ? kind == Stage2FaultKind::Permission : true;
    if (a.kind == Arm64AccessKind::Fetch) return false;
    return a.kind == Arm64AccessKind::Write;  // ESR_ELx.WnR
}

// models kvm_handle_guest_abort(), arch/arm64/kvm/mmu.c
void kvm_handle_guest_abort(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, Stage2FaultKind kind, const Arm64GuestAccess& a, GuestAccessResult& out) {
    const bool translation = kind == Stage2FaultKind::Translation;
    const Profile& profile = vm.profile();
    // An instruction abort: the fetch itself, or the walk translating a fetch's address.
    const bool iabt = a.kind == Arm64AccessKind::Fetch || (a.s1ptw && a.walk_for_fetch);
    // kvm_vcpu_get_hfar(): FAR_EL2, the virtual address (the IPA itself with the MMU off).
    const Gpa far = a.far ? Gpa(a.far->value()) : a.ipa;
    const std::uint8_t ec = iabt ? ESR_ELx_EC_IABT_CUR : ESR_ELx_EC_DABT_CUR;
    // Beyond the sanitised PARange (the host's IPA limit): kvm_inject_size_fault(),
    // arch/arm64/kvm/inject_fault.c, an abort at the IPA whose FSC is cleared to 0 (an
    // address size fault at level 0).
    if (translation && arch.host().ipa_limit < 64 && a.ipa.value() >> arch.host().ipa_limit) {
        vm.trace().emit("kvm_handle_guest_abort", [&] { return "IPA " + hex(a.ipa.value()) + " beyond the host's " + std::to_string(arch.host().ipa_limit) + "-bit IPA limit -> address size fault injected"; });
        VcpuEvent e = inject_abort(ec, a.ipa);
        e.exception.error_code = a64::FSC_ADDRSZ;
        out.events.push_back(e);
        return;
    }
    // Between the VM's IPA size and the limit: a plain external abort at the IPA.
    if (translation && a.ipa.value() >> arch.ipa_bits()) {
        vm.trace().emit("kvm_handle_guest_abort", [&] { return "IPA " + hex(a.ipa.value()) + " outside the VM's " + std::to_string(arch.ipa_bits()) + "-bit IPA space -> abort injected"; });
        out.events.push_back(inject_abort(ec, a.ipa));
        return;
    }
    Gpa canonical = a.ipa;
    bool realm_private = false;
    if (arch.is_realm() && profile.has(Patch::CcaRealm)) {
        // kvm_gpa_from_fault(): memslots are keyed by the canonical address.
        const RealmIpa r = realm_ipa(a.ipa, arch.ipa_bits());
        canonical = r.canonical;
        realm_private = r.is_private;
    }
    const Gfn gfn = gpa_to_gfn(canonical);
    kvm_memory_slot* slot = vm.vcpu_gfn_to_memslot(vcpu, gfn);
    const HvaLookup hva = gfn_to_hva_memslot_prot(vm, slot, gfn);
    const bool write_fault = kvm_is_write_fault(profile, a, kind);

    if (!hva.ok() || (write_fault && !hva.writable)) {
        const std::string why = !hva.ok() ? "no usable memslot" : "write to a read-only memslot";
        if (iabt) {
            vm.trace().emit("kvm_handle_guest_abort", [&] { return why + ", instruction fetch -> prefetch abort injected"; });
            out.events.push_back(inject_abort(ESR_ELx_EC_IABT_CUR, far));
            return;
        }
        if (a.s1ptw) {
            // KVM cannot know what the walker wanted to write: never an MMIO exit.
            vm.trace().emit("kvm_handle_guest_abort", [&] { return why + ", stage-1 walk -> data abort injected"; });
            out.events.push_back(inject_abort(ESR_ELx_EC_DABT_CUR, far));
            return;
        }
        // Cache maintenance outside every memslot: KVM cannot tell a device from a guest being
        // careful, knows only that the range cannot be cached, and skips the instruction
        // (kvm_vcpu_dabt_is_cm()). On a read-only slot it goes on to io_mem_abort(), where its
        // ISV = 0 ends KVM_RUN.
        if (!hva.ok() && a.cache_maintenance) {
            vm.trace().emit("kvm_handle_guest_abort", [&] { return why + ", cache maintenance -> kvm_incr_pc(): the instruction is skipped"; });
            out.completed = true;
            return;
        }
        vm.trace().emit("kvm_handle_guest_abort", [&] { return why + " -> io_mem_abort"; });
        // MMIO emulation exists only in a realm's unprotected half: the RMM reports no
        // syndrome for a protected IPA.
        Arm64GuestAccess mmio = a;
        if (realm_private) mmio.isv = false;
        io_mem_abort(vm, arch, canonical, kind, mmio, out);
        return;
    }
    if (profile.has(Patch::LockWarnFaults) && slot && arch.slot_lock_flags(slot->id) && !iabt) {
        const std::uint32_t lock = arch.slot_lock_flags(slot->id);
        // A write fault on a slot locked read-only is the expected permission relaxation.
        if (!write_fault || (lock & memslot_lock::Write))
            vm.trace().emit("kvm_handle_guest_abort", [&] {
                return "WARN: Unexpected L2 " + std::string(write_fault ? "write" : "read") + " fault on locked memslot " + std::to_string(slot->id) +
                       ": IPA=" + hex(a.ipa.value());
            });
    }
    user_mem_abort(vm, arch, slot, gfn, gpa_to_gfn(a.ipa), Fault{.translation = translation, .write_fault = write_fault, .exec_fault = iabt && !a.s1ptw, .realm_private = realm_private}, a, out);
}

}  // namespace

Arm64GuestAccessResult arm64_guest_access(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu, const Arm64GuestAccess& a) {
    Arm64GuestAccessResult res;
    kvm_vcpu_arch& va = arch.vcpu_arch(vcpu.vcpu_id);
    if (!va.initialized) {
        vm.trace().emit("kvm_arch_vcpu_ioctl_run", [] { return std::string("vCPU not initialised (KVM_ARM_VCPU_INIT) -> -ENOEXEC"); });
        res.run.events.push_back(run_error(Errno::Enoexec));
        return res;
    }
    // kvm_arch_vcpu_run_pid_change(): the first run maps the vGIC's resources; a failure leaves
    // the vCPU not yet run (vcpu->pid is set only after it succeeds), so the next KVM_RUN tries again.
    if (!va.has_run_once) {
        if (const auto err = kvm_vgic_map_resources(vm, arch)) {
            res.run.events.push_back(run_error(*err));
            return res;
        }
    }
    va.has_run_once = true;
    if (arch.mmu_pending_ops()) {
        // Lock RFC 04/39: the deferred cache maintenance of locked slots, before the vCPU enters.
        vm.trace().emit("kvm_mmu_perform_pending_ops", [] { return std::string("dcache clean of locked memslots done; pending ops cleared"); });
        arch.mmu_pending_ops() = 0;
    }
    const Gfn map_gfn = gpa_to_gfn(a.ipa);
    // The vCPU retries the instruction after every resolved fault; a stage-1 walker update may
    // take a second fault (translation, then permission), so allow a few rounds.
    for (int round = 0; round < 4; ++round) {
        const Stage2Pte* pte = arch.stage2().lookup(map_gfn);
        if (pte && stage2_permits(pte->prot, a)) {
            vm.trace().emit("stage 2", [&] { return "ipa " + hex(a.ipa.value()) + " mapped: the CPU completes the access"; });
            access_through_stage2(vm, arch, *pte, a, res.run);
            return res;
        }
        res.stage2_fault = true;
        // The syndrome KVM reads: a CAS with no stage-2 entry at all reports the read that faults
        // first (WnR = 0); with a read-only entry, the write (WnR = 1).
        Arm64GuestAccess reported = a;
        if (a.op == Arm64DataOp::CompareAndSwap && !pte) {
            reported.kind = Arm64AccessKind::Read;
            vm.trace().emit("stage 2", [&] { return "CAS at ipa " + hex(a.ipa.value()) + ": no entry, the read faults first (ESR_EL2.WnR = 0)"; });
        }
        kvm_handle_guest_abort(vm, arch, vcpu, pte ? Stage2FaultKind::Permission : Stage2FaultKind::Translation, reported, res.run);
        if (!res.run.events.empty() || res.run.completed) return res;
    }
    vm.trace().emit("kvm_handle_guest_abort", [] { return std::string("no progress after repeated faults -> KVM_RUN returns -EFAULT"); });
    res.run.events.push_back(run_error(Errno::Efault));
    return res;
}

// The lock RFC's 05/39: resetting a vCPU that has run unmaps stage 2 (stage2_unmap_vm()) except
// for locked slots, whose cache maintenance is deferred again.
KvmResult kvm_arch_vcpu_ioctl_vcpu_init(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu) {
    kvm_vcpu_arch& va = arch.vcpu_arch(vcpu.vcpu_id);
    if (va.has_run_once) {
        bool locked = false;
        vm.memslots(0).for_each([&](const kvm_memory_slot& slot) {
            if (vm.profile().has(Patch::LockImpl) && arch.slot_lock_flags(slot.id)) {
                locked = true;
                return;
            }
            arch.stage2().unmap(slot.base_gfn, slot.end_gfn());
        });
        if (locked) arch.mmu_pending_ops() |= pending_ops::FlushDcache | pending_ops::InvalIcache;
        vm.trace().emit("stage2_unmap_vm", [&] { return std::string("vCPU reset after run: stage 2 unmapped") + (locked ? " except locked slots" : ""); });
    }
    va.initialized = true;
    return KvmResult::ok();
}

}  // namespace kvmsim
