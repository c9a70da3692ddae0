#include "walker.h"

#include <cstring>
#include <stdexcept>

#include "../kvm/translate.h"

namespace kvmsim {

std::string_view to_string(AdUpdate a) {
    switch (a) {
    case AdUpdate::NotNeeded: return "not needed";
    case AdUpdate::Written: return "written";
    case AdUpdate::SkippedReadOnly: return "skipped (read-only slot)";
    case AdUpdate::OverwrittenByEpt: return "overwritten by the CPU (EPT)";
    case AdUpdate::Raced: return "raced";
    case AdUpdate::WriteFailed: return "write failed";
    }
    return "?";
}

std::string_view to_string(PteReadError e) {
    switch (e) {
    case PteReadError::NoSlot: return "no memslot";
    case PteReadError::ReadOnlySlot: return "read-only slot refused by gfn_to_hva()";
    case PteReadError::HostCopyFailed: return "host page unreadable";
    }
    return "?";
}

std::string_view to_string(WalkFault f) {
    switch (f) {
    case WalkFault::None: return "none";
    case WalkFault::PteUnreadable: return "page table unreadable";
    case WalkFault::NotPresent: return "not present";
    case WalkFault::Reserved: return "reserved bit set";
    case WalkFault::Permission: return "permission";
    case WalkFault::AdWriteFailed: return "accessed/dirty write failed";
    }
    return "?";
}

namespace {

constexpr unsigned kMaxWalks = 16;  // the kernel retries forever; only a test hook can race here

std::string describe_pte(PagingMode m, std::uint64_t pte, unsigned level) {
    std::string s = hex(pte) + " (";
    s += (pte & x86::PTE_P) ? "present" : "not present";
    if (pte & x86::PTE_P) {
        s += (pte & x86::PTE_W) ? " writable" : " read-only";
        s += (pte & x86::PTE_U) ? " user" : " supervisor";
        if (m != PagingMode::Bits32 && (pte & x86::PTE_NX)) s += " NX";
        if (pte & x86::PTE_A) s += " A";
        if (pte & x86::PTE_D) s += " D";
        if (level > 1 && (pte & x86::PTE_PS)) s += " PS";
    }
    return s + ")";
}

// The table address a non-leaf entry (or CR3) points to.
Gfn table_gfn_of(PagingMode m, std::uint64_t entry) { return gpte_to_gfn(m, entry, 2, false); }

// The read step of FNAME(walk_addr_generic)(), arch/x86/kvm/mmu/paging_tmpl.h (kvm_vcpu_gfn_to_hva_prot()
// then __copy_from_user()). Reads the guest PTE at the walk's current level: the host address comes from
// gfn_to_hva_prot() (which also says whether the slot is writable) and the value from a user copy.
bool read_pte(kvm& kvm, kvm_vcpu& vcpu, WalkLevel& l, unsigned pte_size, AdWriter who) {
    kvm_memory_slot* slot = kvm.vcpu_gfn_to_memslot(vcpu, l.table_gfn);
    if (slot) {
        l.slot_id = slot->id;
        l.slot_readonly = memslot_is_readonly(*slot);
    }
    HvaLookup h;
    if (who != AdWriter::Kvm || kvm.profile().has(Patch::RoPageTables)) {
        h = gfn_to_hva_memslot_prot(kvm, slot, l.table_gfn);
    } else {
        // Before the patch the walker used gfn_to_hva(), a write translation: a read-only slot
        // answers KVM_HVA_ERR_RO_BAD and the walk fails as if the table were missing.
        h = gfn_to_hva_many(kvm, slot, l.table_gfn);
        h.writable = h.ok();
    }
    if (!h.ok()) {
        l.read_error = h.error == HvaError::RoBad ? PteReadError::ReadOnlySlot : PteReadError::NoSlot;
        return false;
    }
    l.pte_writable = h.writable;
    l.ptep_user = h.hva + offset_in_page(l.pte_gpa.value());
    std::array<std::uint8_t, 8> buf{};
    if (!kvm.mm().copy_from_user(l.ptep_user, std::span(buf.data(), pte_size))) {
        l.read_error = PteReadError::HostCopyFailed;
        return false;
    }
    std::memcpy(&l.pte, buf.data(), pte_size);
    return true;
}

// models permission_fault(), arch/x86/kvm/mmu.h (permissions from update_permission_bitmask(),
// arch/x86/kvm/mmu/mmu.c; protection keys and EFLAGS.AC left out): 0 or the error code.
std::uint32_t permission_fault(const X86PagingState& s, std::uint64_t pte_access, WalkAccess a) {
    const bool w = pte_access & x86::PTE_W;
    const bool u = pte_access & x86::PTE_U;
    const bool x = !(pte_access & x86::PTE_NX);  // NX was inverted for the AND, and back here
    bool fault = false;
    if (a.user) {
        fault = !u || (a.write && !w) || (a.fetch && !x);
    } else {
        // A supervisor write to a read-only page faults only with CR0.WP; SMEP and SMAP keep
        // the kernel from running or touching user pages.
        fault = (a.write && !w && (s.cr0 & x86::CR0_WP)) || (a.fetch && !x) || (a.fetch && u && (s.cr4 & x86::CR4_SMEP)) ||
                (!a.fetch && u && (s.cr4 & x86::CR4_SMAP));
    }
    return fault ? x86::PFERR_PRESENT : 0;
}

// models FNAME(cmpxchg_gpte)(), arch/x86/kvm/mmu/paging_tmpl.h (__try_cmpxchg_user): -1 when
// the host page cannot be written (-EFAULT), 1 when the PTE changed (walk again), 0 when written.
int cmpxchg_gpte(kvm& kvm, const WalkLevel& l, unsigned pte_size, const WalkOptions& o) {
    if (o.before_cmpxchg) o.before_cmpxchg(l.ptep_user);
    std::array<std::uint8_t, 8> buf{};
    const vm_area_struct* vma = kvm.mm().find_vma(l.ptep_user);
    // A user-space cmpxchg needs a writable mapping.
    if (!vma || !vma->prot.write || !kvm.mm().copy_from_user(l.ptep_user, std::span(buf.data(), pte_size))) return -1;
    std::uint64_t cur = 0;
    std::memcpy(&cur, buf.data(), pte_size);
    if (cur != l.pte) return 1;
    std::memcpy(buf.data(), &l.new_pte, pte_size);
    return kvm.mm().copy_to_user(l.ptep_user, std::span<const std::uint8_t>(buf.data(), pte_size)) ? 0 : -1;
}

// models FNAME(update_accessed_dirty_bits)(), arch/x86/kvm/mmu/paging_tmpl.h: A on every level
// walked, D on the leaf for a write; -1 (-EFAULT), 1 (raced: walk again) or 0.
int update_accessed_dirty_bits(kvm& kvm, kvm_vcpu& vcpu, guest_walker& w, WalkAccess a, const WalkOptions& o) {
    const unsigned pte_size = paging_mode_info(w.mode).pte_size;
    for (unsigned level = w.max_level; level >= w.level; --level) {
        WalkLevel& l = w.levels[level - 1];
        l.new_pte = l.pte | x86::PTE_A;
        if (level == w.level && a.write) l.new_pte |= x86::PTE_D;
        if (l.new_pte == l.pte) continue;
        if (!l.pte_writable) {
            if (o.ad_writer == AdWriter::EptHardware) {
                // "EPT works but will simply overwrite the read-only memory to set the accessed
                // and dirty bits" (the comment the seed patch adds to update_accessed_dirty_bits()).
                std::array<std::uint8_t, 8> buf{};
                std::memcpy(buf.data(), &l.new_pte, pte_size);
                (void)kvm.mm().access_mapped(l.ptep_user, std::span(buf.data(), pte_size), true);  // the CPU writes through EPT, not GUP
                l.ad = AdUpdate::OverwrittenByEpt;
                kvm.trace().emit("update_accessed_dirty_bits", [&] {
                    return std::string(level_name(w.mode, level)) + " at gpa " + hex(l.pte_gpa.value()) + ": the CPU (EPT) writes " + hex(l.pte) + " -> " +
                           hex(l.new_pte) + " into read-only slot " + std::to_string(*l.slot_id) + "'s memory: EPT overwrites the ROM";
                });
                continue;
            }
            // "If the slot is read-only, simply do not process the accessed and dirty bits"
            // (ba6a35415455): a ROM's tables work only if the bits are already set, because
            // setting them would need an MMIO write.
            l.ad = AdUpdate::SkippedReadOnly;
            kvm.trace().emit("update_accessed_dirty_bits", [&] {
                const std::uint64_t bits = l.new_pte ^ l.pte;
                const std::string what = (bits & x86::PTE_A) && (bits & x86::PTE_D) ? "A and D" : (bits & x86::PTE_A) ? "A" : "D";
                return std::string(level_name(w.mode, level)) + " at gpa " + hex(l.pte_gpa.value()) + " needs " + what + " (" + hex(l.pte) + " -> " +
                       hex(l.new_pte) + "), but its table is in slot " + std::to_string(*l.slot_id) +
                       ", which is KVM_MEM_READONLY (pte_writable = false): skipped, because writing ROM would need an MMIO exit; the guest's entry keeps " +
                       hex(l.pte);
            });
            continue;
        }
        const int r = cmpxchg_gpte(kvm, l, pte_size, o);
        if (r != 0) {
            l.ad = r < 0 ? AdUpdate::WriteFailed : AdUpdate::Raced;
            kvm.trace().emit("update_accessed_dirty_bits", [&] {
                return std::string(level_name(w.mode, level)) + " at gpa " + hex(l.pte_gpa.value()) +
                       (r < 0 ? ": the host page cannot be written (-EFAULT) -> #PF to the guest"
                              : ": the entry changed since it was read (cmpxchg failed) -> walk again");
            });
            return r;
        }
        l.ad = AdUpdate::Written;
        kvm.mark_page_dirty_in_slot(kvm.vcpu_gfn_to_memslot(vcpu, l.table_gfn), l.table_gfn);
        kvm.trace().emit("update_accessed_dirty_bits", [&] {
            std::string bits = ((l.new_pte ^ l.pte) & x86::PTE_A) ? "A" : "";
            if ((l.new_pte ^ l.pte) & x86::PTE_D) bits += bits.empty() ? "D" : "+D";
            return std::string(level_name(w.mode, level)) + " at gpa " + hex(l.pte_gpa.value()) + ": set " + bits + " by cmpxchg, " +
                   hex(l.pte) + " -> " + hex(l.new_pte) + " in slot " + std::to_string(*l.slot_id) + " (mark_page_dirty on the table)";
        });
        l.pte = l.new_pte;
    }
    return 0;
}

// models one pass of FNAME(walk_addr_generic)() from retry_walk:, arch/x86/kvm/mmu/paging_tmpl.h;
// returns false to retry after a compare-and-exchange race.
bool walk_once(kvm& kvm, kvm_vcpu& vcpu, const X86PagingState& s, const GuestCpuid& cpuid, Gva addr, WalkAccess a,
               const WalkOptions& o, guest_walker& w) {
    const PagingModeInfo& info = paging_mode_info(w.mode);
    if (w.walks > 0) w.levels = {};  // a retry starts clean; the first pass finds them zeroed by guest_walker{}
    w.why = WalkFault::None;
    w.fault.reset();
    std::uint32_t errcode = 0;
    unsigned level = info.root_level;
    std::uint64_t pte = s.cr3;
    // Inverting NX lets it be ANDed like the other permission bits (64-bit entries only).
    const std::uint64_t nx_mask = info.pte_size == 8 ? x86::PTE_NX : 0;
    auto fail = [&](WalkFault why) {
        w.why = why;
        errcode |= (a.write ? x86::PFERR_WRITE : 0) | (a.user ? x86::PFERR_USER : 0);
        // I/D is reported only where a fetch can fault on its own: with NX or SMEP.
        if (a.fetch && ((s.efer & x86::EFER_NXE) || (s.cr4 & x86::CR4_SMEP))) errcode |= x86::PFERR_FETCH;
        w.fault = x86_exception{x86::kPfVector, errcode, addr};
        kvm.trace().emit("walk_addr_generic", [&] {
            return "fault at " + std::string(level_name(w.mode, w.level)) + " level: " + std::string(to_string(why)) + " -> #PF error code " +
                   hex(errcode) + ", CR2 " + hex(addr.value());
        });
        return true;
    };
    if (w.mode == PagingMode::Pae) {
        // The PDPTE comes from the registers load_pdptrs() filled at CR3 load, not from memory.
        WalkLevel& l = w.levels[2];
        l.level = 3;
        l.from_pdptr = true;
        l.pte = pte = s.pdptrs[pt_index(w.mode, addr, 3)];
        w.level = 3;
        kvm.trace().emit("walk_addr_generic", [&] {
            return "PDPTE register " + std::to_string(pt_index(w.mode, addr, 3)) + " = " + describe_pte(w.mode, pte, 3);
        });
        if (!(pte & x86::PTE_P)) return fail(WalkFault::NotPresent);
        --level;
    }
    w.max_level = level;
    std::uint64_t pte_access = ~std::uint64_t{0};
    std::uint64_t pt_access = pte_access;
    ++level;
    do {
        pt_access = pte_access;
        --level;
        w.level = level;
        WalkLevel& l = w.levels[level - 1];
        l.level = level;
        l.table_gfn = table_gfn_of(w.mode, pte);
        l.pte_gpa = gfn_to_gpa(l.table_gfn) + std::uint64_t{pt_index(w.mode, addr, level)} * info.pte_size;
        if (!read_pte(kvm, vcpu, l, info.pte_size, o.ad_writer)) {
            kvm.trace().emit("walk_addr_generic", [&] {
                return std::string(level_name(w.mode, level)) + " at gpa " + hex(l.pte_gpa.value()) + ": " + std::string(to_string(*l.read_error)) +
                       (l.slot_id ? " (slot " + std::to_string(*l.slot_id) + ")" : "");
            });
            return fail(WalkFault::PteUnreadable);
        }
        pte = l.pte;
        pte_access = pt_access & (pte ^ nx_mask);
        kvm.trace().emit("walk_addr_generic", [&] {
            return std::string(level_name(w.mode, level)) + " index " + std::to_string(pt_index(w.mode, addr, level)) + " at gpa " +
                   hex(l.pte_gpa.value()) + " (slot " + std::to_string(*l.slot_id) + (l.slot_readonly ? (l.pte_writable ? ", KVM_MEM_READONLY" : ", KVM_MEM_READONLY so pte_writable = false") : "") +
                   ", hva " + hex(l.ptep_user.value()) + ") = " + describe_pte(w.mode, pte, level);
        });
        if (!(pte & x86::PTE_P)) return fail(WalkFault::NotPresent);
        if (is_rsvd_bits_set(s, cpuid, pte, level)) {
            errcode = x86::PFERR_RSVD | x86::PFERR_PRESENT;
            return fail(WalkFault::Reserved);
        }
    } while (!is_last_gpte(s, pte, level));

    w.pte_access = pte_access ^ nx_mask;
    errcode = permission_fault(s, w.pte_access, a);
    if (errcode) return fail(WalkFault::Permission);

    const std::uint64_t page = level_page_size(w.mode, level);
    w.gfn = Gfn(gpte_to_gfn(w.mode, pte, level, true).value() + ((addr.value() & (page - 1)) >> PAGE_SHIFT));
    w.gpa = gfn_to_gpa(w.gfn) + offset_in_page(addr.value());
    // accessed_dirty: A of every level (the AND), and on a write D of the leaf.
    bool accessed_dirty = pte_access & x86::PTE_A;
    if (a.write) accessed_dirty = accessed_dirty && (pte & x86::PTE_D);
    if (!accessed_dirty && !o.dry_run) {
        const int r = update_accessed_dirty_bits(kvm, vcpu, w, a, o);
        if (r < 0) {
            errcode = 0;
            return fail(WalkFault::AdWriteFailed);
        }
        if (r > 0) return false;
    }
    kvm.trace().emit("walk_addr_generic", [&] {
        return "gva " + hex(addr.value()) + " -> gpa " + hex(w.gpa.value()) + " (" + std::string(level_name(w.mode, level)) + " maps " +
               (page >= (1u << 30) ? std::to_string(page >> 30) + "G" : page >= (1u << 20) ? std::to_string(page >> 20) + "M" : "4K") +
               (accessed_dirty ? "; A/D already set, nothing to write)" : ")");
    });
    return true;
}

}  // namespace

guest_walker walk_addr_generic(kvm& kvm, kvm_vcpu& vcpu, const X86PagingState& state, const GuestCpuid& cpuid, Gva addr,
                               WalkAccess access, const WalkOptions& options) {
    guest_walker w;
    w.mode = paging_mode(state);
    kvm.trace().emit("walk_addr_generic", [&] {
        return "walk gva " + hex(addr.value()) + " for a " + (access.user ? "user " : "supervisor ") +
               (access.fetch ? "fetch" : access.write ? "write" : "read") + " in " + std::string(paging_mode_info(w.mode).name) +
               " paging, CR3 " + hex(state.cr3);
    });
    while (!walk_once(kvm, vcpu, state, cpuid, addr, access, options, w))
        if (++w.walks >= kMaxWalks) throw std::logic_error("the guest's page table kept changing under the walker");
    ++w.walks;
    return w;
}

}  // namespace kvmsim
