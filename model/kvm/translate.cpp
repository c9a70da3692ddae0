#include "translate.h"

#include <algorithm>

#include "kvm.h"

namespace kvmsim {

std::string_view to_string(HvaError e) {
    switch (e) {
    case HvaError::Bad: return "KVM_HVA_ERR_BAD";
    case HvaError::RoBad: return "KVM_HVA_ERR_RO_BAD";
    }
    return "?";
}

std::string_view to_string(PfnError e) {
    switch (e) {
    case PfnError::Fault: return "KVM_PFN_ERR_FAULT";
    case PfnError::Hwpoison: return "KVM_PFN_ERR_HWPOISON";
    case PfnError::RoFault: return "KVM_PFN_ERR_RO_FAULT";
    case PfnError::Noslot: return "KVM_PFN_NOSLOT";
    case PfnError::Bad: return "KVM_PFN_ERR_BAD";
    case PfnError::Sigpending: return "KVM_PFN_ERR_SIGPENDING";
    }
    return "?";
}

HvaLookup gfn_to_hva_many_inner(const kvm& kvm, const kvm_memory_slot* slot, Gfn gfn, TranslateFlags flags) {
    HvaLookup r;
    const std::uint32_t invalid =
        kvm.profile().has(Patch::HideMemslotInvalid) ? memflag::Invalid : memflag::InvalidBeforeFlagsCheck;
    if (!slot || (slot->flags & invalid)) {
        r.error = HvaError::Bad;
        r.hva = KVM_HVA_ERR_BAD_VALUE;
    } else if (kvm.profile().has(Patch::ReadonlyMemslot) && memslot_is_readonly(*slot) && flags.write) {
        // The one place a read-only slot refuses a write translation; every write path
        // (kvm_write_guest, the MMU's faultin) inherits the refusal from here.
        r.error = HvaError::RoBad;
        r.hva = KVM_HVA_ERR_RO_BAD_VALUE;
    } else {
        r.nr_pages = slot->npages - (gfn.value() - slot->base_gfn.value());
        r.hva = slot->userspace_addr + (gfn.value() - slot->base_gfn.value()) * PAGE_SIZE;
    }
    kvm.trace().emit("__gfn_to_hva_many", [&] {
        std::string s = "gfn " + hex(gfn.value()) + (flags.write ? " write" : " read") + ": ";
        if (!slot) return s + "no memslot -> KVM_HVA_ERR_BAD";
        s += "slot " + std::to_string(slot->id);
        if (r.error) return s + (*r.error == HvaError::RoBad ? " is KVM_MEM_READONLY -> KVM_HVA_ERR_RO_BAD" : " invalid -> KVM_HVA_ERR_BAD");
        return s + " -> hva " + hex(r.hva.value());
    });
    return r;
}

HvaLookup gfn_to_hva_many(const kvm& kvm, const kvm_memory_slot* slot, Gfn gfn) {
    return gfn_to_hva_many_inner(kvm, slot, gfn, {.write = true});
}

HvaLookup gfn_to_hva(kvm& kvm, Gfn gfn) { return gfn_to_hva_many(kvm, kvm.gfn_to_memslot(gfn), gfn); }

HvaLookup gfn_to_hva_memslot_prot(const kvm& kvm, const kvm_memory_slot* slot, Gfn gfn) {
    HvaLookup r = gfn_to_hva_many_inner(kvm, slot, gfn, {.write = false});
    if (r.ok()) r.writable = !(kvm.profile().has(Patch::ReadonlyMemslot) && memslot_is_readonly(*slot));
    return r;
}

HvaLookup gfn_to_hva_prot(kvm& kvm, Gfn gfn) { return gfn_to_hva_memslot_prot(kvm, kvm.gfn_to_memslot(gfn), gfn); }

// models hva_to_pfn_remapped(), virt/kvm/kvm_main.c: VM_IO|VM_PFNMAP memory has no struct page,
// so the pfn comes from the mapping's page table entry.
static PfnLookup hva_to_pfn_remapped(kvm& kvm, const vm_area_struct& vma, Hva hva, TranslateFlags flags) {
    if (!vma.prot.read && !vma.prot.write) return {Pfn(), PfnError::Fault, false};
    if (flags.write && !vma.prot.write) return {Pfn(), PfnError::RoFault, false};
    return {kvm.mm().pfnmap_pfn(vma, hva), std::nullopt, vma.prot.write};
}

PfnLookup hva_to_pfn(kvm& kvm, Hva hva, TranslateFlags flags) {
    HostMm& mm = kvm.mm();
    PfnLookup r;
    // hva_to_pfn_fast / hva_to_pfn_slow: get_user_pages, with FOLL_WRITE for a write fault; a
    // read that may map writable is upgraded when the page can be written.
    const GupResult gup = mm.get_user_page(hva, flags.write);
    if (gup.pfn) {
        r.pfn = *gup.pfn;
        r.writable = flags.write || (flags.want_writable && mm.find_vma(hva)->prot.write);
    } else if (gup.error == GupError::Hwpoison) {
        r.error = PfnError::Hwpoison;
    } else if (const vm_area_struct* vma = mm.find_vma(hva); !vma) {
        r.error = PfnError::Fault;
    } else if (vma->is_pfnmap()) {
        r = hva_to_pfn_remapped(kvm, *vma, hva, flags);
    } else {
        // A mapping without the needed permission (PROT_NONE, PROT_READ for a write).
        r.error = PfnError::Fault;
    }
    kvm.trace().emit("hva_to_pfn", [&] {
        std::string s = "hva " + hex(hva.value()) + (flags.write ? " write" : " read") + " -> ";
        if (r.error) return s + std::string(to_string(*r.error));
        return s + "pfn " + hex(r.pfn.value()) + (r.writable ? " writable" : " read-only");
    });
    return r;
}

PfnLookup gfn_to_pfn_memslot_inner(kvm& kvm, const kvm_memory_slot* slot, Gfn gfn, TranslateFlags flags) {
    const HvaLookup hva = gfn_to_hva_many_inner(kvm, slot, gfn, {.write = flags.write});
    if (hva.error == HvaError::RoBad) return {Pfn(), PfnError::RoFault, false};
    if (hva.error) return {Pfn(), kvm.profile().has(Patch::PfnNoslot) ? PfnError::Noslot : PfnError::Bad, false};
    // Do not map writable pfn in the readonly memslot.
    if (kvm.profile().has(Patch::ReadonlyMemslot) && memslot_is_readonly(*slot)) flags.want_writable = false;
    return hva_to_pfn(kvm, hva.hva, flags);
}

namespace {

// Splits [gpa, gpa + len) at page boundaries and runs fn(gfn, offset, chunk) per page until one fails.
template <typename Fn>
KvmResult for_each_page(Gpa gpa, std::size_t len, Fn&& fn) {
    std::size_t done = 0;
    while (done < len) {
        const std::uint64_t at = gpa.value() + done;
        const std::size_t chunk = std::min<std::size_t>(len - done, PAGE_SIZE - offset_in_page(at));
        if (!fn(Gfn(at >> PAGE_SHIFT), offset_in_page(at), done, chunk)) return KvmResult::error(Errno::Efault);
        done += chunk;
    }
    return KvmResult::ok();
}

// models __kvm_read_guest_page(), virt/kvm/kvm_main.c
bool read_guest_page(kvm& kvm, const kvm_memory_slot* slot, Gfn gfn, std::uint64_t offset, std::span<std::uint8_t> out) {
    const HvaLookup hva = gfn_to_hva_memslot_prot(kvm, slot, gfn);
    return hva.ok() && kvm.mm().copy_from_user(hva.hva + offset, out);
}

// models __kvm_write_guest_page(), virt/kvm/kvm_main.c
bool write_guest_page(kvm& kvm, kvm_memory_slot* slot, Gfn gfn, std::uint64_t offset, std::span<const std::uint8_t> in) {
    const HvaLookup hva = gfn_to_hva_many(kvm, slot, gfn);
    if (!hva.ok() || !kvm.mm().copy_to_user(hva.hva + offset, in)) return false;
    kvm.mark_page_dirty_in_slot(slot, gfn);
    return true;
}

}  // namespace

KvmResult kvm_read_guest(kvm& kvm, Gpa gpa, std::span<std::uint8_t> data) {
    return for_each_page(gpa, data.size(), [&](Gfn gfn, std::uint64_t off, std::size_t done, std::size_t chunk) {
        return read_guest_page(kvm, kvm.gfn_to_memslot(gfn), gfn, off, data.subspan(done, chunk));
    });
}

KvmResult kvm_write_guest(kvm& kvm, Gpa gpa, std::span<const std::uint8_t> data) {
    return for_each_page(gpa, data.size(), [&](Gfn gfn, std::uint64_t off, std::size_t done, std::size_t chunk) {
        return write_guest_page(kvm, kvm.gfn_to_memslot(gfn), gfn, off, data.subspan(done, chunk));
    });
}

KvmResult kvm_vcpu_read_guest(kvm& kvm, kvm_vcpu& vcpu, Gpa gpa, std::span<std::uint8_t> data) {
    return for_each_page(gpa, data.size(), [&](Gfn gfn, std::uint64_t off, std::size_t done, std::size_t chunk) {
        return read_guest_page(kvm, kvm.vcpu_gfn_to_memslot(vcpu, gfn), gfn, off, data.subspan(done, chunk));
    });
}

KvmResult kvm_vcpu_write_guest(kvm& kvm, kvm_vcpu& vcpu, Gpa gpa, std::span<const std::uint8_t> data) {
    return for_each_page(gpa, data.size(), [&](Gfn gfn, std::uint64_t off, std::size_t done, std::size_t chunk) {
        return write_guest_page(kvm, kvm.vcpu_gfn_to_memslot(vcpu, gfn), gfn, off, data.subspan(done, chunk));
    });
}

}  // namespace kvmsim
