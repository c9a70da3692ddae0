#include "host_mm.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace kvmsim {
namespace {

bool overlaps(const vm_area_struct& v, Hva start, Hva end) { return v.vm_start < end && start < v.vm_end; }

}  // namespace

// models do_mmap() with MAP_FIXED_NOREPLACE, mm/mmap.c
KvmResult HostMm::mmap(Hva hva, std::uint64_t size, Prot prot, MappingKind kind, const std::string& name, Backing backing) {
    if (!page_aligned(hva.value()) || size == 0) return KvmResult::error(Errno::Einval);
    const std::uint64_t len = (size + PAGE_SIZE - 1) & PAGE_MASK;
    if (len < size || hva.value() > TASK_SIZE_MAX || len > TASK_SIZE_MAX - hva.value())
        return KvmResult::error(Errno::Enomem);
    const Hva end = hva + len;
    auto it = vmas_.upper_bound(hva.value());
    if (it != vmas_.begin() && overlaps(std::prev(it)->second, hva, end)) return KvmResult::error(Errno::Eexist);
    if (it != vmas_.end() && overlaps(it->second, hva, end)) return KvmResult::error(Errno::Eexist);

    vm_area_struct vma{hva, end, prot, kind, name, 0, 0};
    vma.backing = backing;
    if (kind == MappingKind::PfnMap) {
        vma.pfn_base = next_pfnmap_base_;
        next_pfnmap_base_ += len >> PAGE_SHIFT;
    }
    vmas_.emplace(hva.value(), std::move(vma));
    invalidate_page_refs();  // cached "no VMA here" answers
    return KvmResult::ok();
}

// Cuts the mapping that contains hva in two at hva (__split_vma, mm/vma.c).
void HostMm::split_at(Hva hva) {
    auto it = vmas_.upper_bound(hva.value());
    if (it == vmas_.begin()) return;
    --it;
    vm_area_struct& v = it->second;
    if (!v.contains(hva) || v.vm_start == hva) return;
    split_thp(hva.value(), hva.value() + 1);  // a huge page across the cut becomes pages
    vm_area_struct tail = v;
    tail.vm_start = hva;
    tail.pgoff = v.pgoff + ((hva - v.vm_start) >> PAGE_SHIFT);
    v.vm_end = hva;
    vmas_.emplace(hva.value(), std::move(tail));
    invalidate_page_refs();
}

// models __do_munmap() / do_vmi_munmap(), mm/vma.c
KvmResult HostMm::munmap(Hva hva, std::uint64_t size) {
    if (!page_aligned(hva.value()) || size == 0) return KvmResult::error(Errno::Einval);
    const std::uint64_t len = (size + PAGE_SIZE - 1) & PAGE_MASK;
    if (len < size || hva.value() > TASK_SIZE_MAX || len > TASK_SIZE_MAX - hva.value())
        return KvmResult::error(Errno::Einval);
    const Hva end = hva + len;
    split_at(hva);
    split_at(end);
    for (auto it = vmas_.lower_bound(hva.value()); it != vmas_.end() && it->second.vm_start < end;)
        it = vmas_.erase(it);
    // Dropping the pages forgets their pfns: a later mmap at the same hva gets new pages.
    invalidate_page_refs();
    if (len / PAGE_SIZE < pages_.size()) {
        for (std::uint64_t p = hva.value(); p < end.value(); p += PAGE_SIZE) pages_.erase(p);
    } else {
        std::erase_if(pages_, [&](const auto& kv) { return kv.first >= hva.value() && kv.first < end.value(); });
    }
    return KvmResult::ok();
}

Hva HostMm::mapped_prefix_end(Hva start, Hva end) const {
    Hva at = start;
    auto it = vmas_.upper_bound(start.value());
    if (it != vmas_.begin()) --it;
    for (; it != vmas_.end() && at < end; ++it) {
        if (it->second.vm_end <= at) continue;
        if (it->second.vm_start > at) break;
        at = it->second.vm_end;
    }
    return at < end ? at : end;
}

// models do_mprotect_pkey(), mm/mprotect.c
KvmResult HostMm::mprotect(Hva hva, std::uint64_t size, Prot prot) {
    if (!page_aligned(hva.value())) return KvmResult::error(Errno::Einval);
    const std::uint64_t len = (size + PAGE_SIZE - 1) & PAGE_MASK;
    if (len < size) return KvmResult::error(Errno::Enomem);
    if (len == 0) return KvmResult::ok();
    if (hva.value() > TASK_SIZE_MAX || len > TASK_SIZE_MAX - hva.value()) return KvmResult::error(Errno::Enomem);
    const Hva end = hva + len;
    // The VMAs are changed one by one from `hva`: a hole before `end` stops the walk with
    // ENOMEM, and what came before it keeps its new protection (seen on this machine's kernel
    // by kvmsim fuzz: a range running past the end of a mapping still protects its first part).
    const Hva done = mapped_prefix_end(hva, end);
    if (done > hva) {
        split_at(hva);
        split_at(done);
        for (auto it = vmas_.lower_bound(hva.value()); it != vmas_.end() && it->second.vm_start < done; ++it) it->second.prot = prot;
        invalidate_page_refs();
    }
    return done == end ? KvmResult::ok() : KvmResult::error(Errno::Enomem);
}

// models madvise_inject_error(), mm/madvise.c, with memory_failure(), mm/memory-failure.c, for
// one page: get_user_pages_fast(start, 1, 0) takes the page by a read fault, then the page is
// poisoned (checked against Debian's 6.1 and 6.12 sources and both kernels under QEMU).
HwpoisonResult HostMm::madvise_hwpoison(Hva hva, bool action_required) {
    const Hva at(hva.value() & PAGE_MASK);
    const vm_area_struct* vma = find_vma(at);
    // get_user_pages_fast() refuses a hole, VM_IO | VM_PFNMAP and a mapping it may not read
    // (check_vma_flags()): EFAULT.
    if (!vma || !check_vma_flags(*vma, GupFlags{}).is_ok()) return {KvmResult::error(Errno::Efault)};
    const auto it = pages_.find(at.value());
    // A poisoned page was unmapped and left a hwpoison entry: the read fault is VM_FAULT_HWPOISON,
    // which GUP without FOLL_HWPOISON turns into EFAULT (faultin_page(), mm/gup.c).
    if (it != pages_.end() && it->second.hwpoison) return {KvmResult::error(Errno::Efault)};
    HostPage& page = fault_in(at, false);
    if (page.zero_page) {
        // The zero page is PageReserved: memory_failure() sets PG_hwpoison (TestSetPageHWPoison),
        // then identify_page_state() finds a kernel page and me_kernel() ignores it: EBUSY. The
        // flag stays, so the next poison of any zero-page mapping finds it set: EHWPOISON, and
        // with MF_ACTION_REQUIRED kill_accessing_process() first sends the caller SIGBUS.
        if (!zero_page_hwpoison_) {
            zero_page_hwpoison_ = true;
            return {KvmResult::error(Errno::Ebusy)};
        }
        return {KvmResult::error(Errno::Ehwpoison), action_required};
    }
    page.hwpoison = true;
    // A private anonymous page of its own was written (a write fault made it, and its PTE dirty):
    // hwpoison_user_mappings() unmaps it and, the page being dirty, kills the processes
    // collect_procs() found. Without early kill that is only the caller, and only with
    // MF_ACTION_REQUIRED (task_early_kill(): force_early); me_pagecache_dirty() then recovers
    // the anonymous page: 0. A shared (shmem) page is dirty only once written; a clean one is
    // dropped without a kill (forcekill false). The shmem case follows the source and has not
    // been run on a kernel.
    const bool dirty = vma->kind == MappingKind::Anonymous || page.bytes != nullptr;
    return {KvmResult::ok(), action_required && dirty};
}

const vm_area_struct* HostMm::find_vma(Hva hva) const { return page_ref(hva.value() & PAGE_MASK).vma; }

// models find_vma() + the vm_start check (vma_lookup(), include/linux/mm.h) over the VMA tree.
const vm_area_struct* HostMm::vma_lookup(Hva hva) const {
    auto it = vmas_.upper_bound(hva.value());
    if (it == vmas_.begin()) return nullptr;
    --it;
    return it->second.contains(hva) ? &it->second : nullptr;
}

Pfn HostMm::pfnmap_pfn(const vm_area_struct& vma, Hva hva) const {
    return Pfn(vma.pfn_base + vma.pgoff + ((hva.value() - vma.vm_start.value()) >> PAGE_SHIFT));
}

HostMm::PageRef& HostMm::page_ref(std::uint64_t page) const {
    PageRef& r = page_refs_[(page >> PAGE_SHIFT) % kPageRefs];
    if (r.gen == page_ref_gen_ && r.hva == page) return r;
    r.hva = page;
    r.gen = page_ref_gen_;
    auto it = pages_.find(page);
    if (it == pages_.end()) {
        r.page = nullptr;
        r.vma = vma_lookup(Hva(page));
        return r;
    }
    HostPage& p = const_cast<HostPage&>(it->second);
    if (p.vma_gen != page_ref_gen_) {
        p.vma = vma_lookup(Hva(page));
        p.vma_gen = page_ref_gen_;
    }
    r.page = &p;
    r.vma = p.vma;
    return r;
}

// models handle_mm_fault() on one page, mm/memory.c: a read fault of an untouched private
// anonymous page maps the zero page; a write fault gives it a page of its own.
HostPage& HostMm::fault_in(Hva page, bool write) {
    PageRef& r = page_ref(page.value());
    if (r.page) {  // present: no insert, no hash
        if (write && r.page->zero_page) {
            // A write to the huge zero page splits it (do_huge_pmd_wp_page() falls back to
            // pages): the written page gets one of its own, the rest stay zero pages.
            const std::uint64_t pmd = page.value() & ~((std::uint64_t{1} << HPAGE_PMD_SHIFT) - 1);
            if (auto t = thp_.find(pmd); t != thp_.end() && t->second) {
                thp_.erase(t);
                r.page->pfn = Pfn(next_pfn_++);
            }
        }
        if (write) r.page->zero_page = false;
        return *r.page;
    }
    if (r.vma && thp_fault(*r.vma, page.value(), write)) return fault_in(page, write);
    HostPage& p = pages_[page.value()];
    p.pfn = (r.vma && r.vma->is_pfnmap()) ? pfnmap_pfn(*r.vma, page) : Pfn(next_pfn_++);
    p.zero_page = !write && r.vma && r.vma->kind == MappingKind::Anonymous && r.vma->backing != Backing::Hugetlb;
    p.vma = r.vma;
    p.vma_gen = page_ref_gen_;
    r.page = &p;
    if (r.vma && r.vma->uffd) handle_userfault(*r.vma, page.value(), p);
    return p;
}

// models check_vma_flags(), mm/gup.c
KvmResult check_vma_flags(const vm_area_struct& vma, GupFlags flags) {
    if (vma.is_pfnmap()) return KvmResult::error(Errno::Efault);  // VM_IO | VM_PFNMAP: no struct page
    if (flags.write) {
        if (!vma.prot.write) {
            if (!flags.force) return KvmResult::error(Errno::Efault);
            // FOLL_FORCE may only break copy-on-write: is_cow_mapping() is false for MAP_SHARED.
            if (vma.kind == MappingKind::Shared) return KvmResult::error(Errno::Efault);
        }
    } else if (!vma.prot.read && !flags.force) {
        return KvmResult::error(Errno::Efault);  // with FOLL_FORCE, VM_MAYREAD suffices (every mmap here has it)
    }
    return KvmResult::ok();
}

// models get_user_pages() for one page with FOLL_HWPOISON, mm/gup.c
GupResult HostMm::get_user_page(Hva hva, bool write) {
    const PageRef& r = page_ref(hva.value() & PAGE_MASK);
    if (!r.vma || !check_vma_flags(*r.vma, GupFlags{.write = write}).is_ok()) return {std::nullopt, GupError::Fault};
    HostPage& page = fault_in(Hva(hva.value() & PAGE_MASK), write);
    if (page.hwpoison) return {std::nullopt, GupError::Hwpoison};
    return {page.pfn, std::nullopt};
}

bool HostMm::copy(Hva hva, std::uint8_t* buf, std::size_t len, Access access, bool to_memory) {
    std::size_t done = 0;
    while (done < len) {
        const Hva at = hva + done;
        const Hva page_hva(at.value() & PAGE_MASK);
        const PageRef& r = page_ref(page_hva.value());
        const vm_area_struct* vma = r.vma;
        if (!vma) return false;
        if (access == Access::Read && !vma->prot.read) return false;
        if (access == Access::Write && !vma->prot.write) return false;
        const std::size_t chunk = std::min<std::size_t>(len - done, PAGE_SIZE - offset_in_page(at.value()));
        if (to_memory) {
            HostPage& page = fault_in(page_hva, true);
            if (page.hwpoison) return false;
            if (!page.bytes) page.bytes = std::make_unique<std::array<std::uint8_t, PAGE_SIZE>>();
            std::memcpy(page.bytes->data() + offset_in_page(at.value()), buf + done, chunk);
        } else {
            // A read faults the page in too (the zero page for private anonymous memory, a page
            // cache page for shmem): it is present from now on, which a userfaultfd registered
            // later sees (no MISSING fault). Under a userfaultfd the read of a missing page is
            // itself a fault (do_anonymous_page(), shmem_get_folio_gfp() ask handle_userfault()
            // before mapping any page).
            const HostPage* page = r.page;
            if (!page && !vma->is_pfnmap()) page = &fault_in(page_hva, false);
            if (page && page->hwpoison) return false;
            if (page && page->bytes)
                std::memcpy(buf + done, page->bytes->data() + offset_in_page(at.value()), chunk);
            else
                std::memset(buf + done, 0, chunk);  // an untouched page reads as zeros
        }
        done += chunk;
    }
    return true;
}

bool HostMm::copy_from_user(Hva hva, std::span<std::uint8_t> out) {
    // The walker's case, a PTE within one page: the cached page answers without the loop.
    if (out.size() <= 8 && offset_in_page(hva.value()) + out.size() <= PAGE_SIZE) {
        const PageRef& r = page_ref(hva.value() & PAGE_MASK);
        // A page not yet resident takes the loop below: its read fault maps it (and under a
        // userfaultfd is a fault the handler sees).
        if (r.vma && !r.page && !r.vma->is_pfnmap()) return copy(hva, out.data(), out.size(), Access::Read, false);
        if (!r.vma || !r.vma->prot.read || (r.page && r.page->hwpoison)) return false;
        const std::uint8_t* src = r.page && r.page->bytes ? r.page->bytes->data() + offset_in_page(hva.value()) : nullptr;
        if (out.size() == 8 && src) std::memcpy(out.data(), src, 8);  // a constant size: two moves, no call
        else if (src) std::memcpy(out.data(), src, out.size());
        else std::memset(out.data(), 0, out.size());  // an untouched page reads as zeros
        return true;
    }
    return copy(hva, out.data(), out.size(), Access::Read, false);
}

bool HostMm::copy_to_user(Hva hva, std::span<const std::uint8_t> in) {
    return copy(hva, const_cast<std::uint8_t*>(in.data()), in.size(), Access::Write, true);
}

// models mem_rw(), fs/proc/base.c, through access_remote_vm() (mm/memory.c): one page at a time,
// GUP with FOLL_FORCE (and FOLL_WRITE for a write). The contract says EFAULT for a hole or a
// refused page; a poisoned page cannot be copied either (EIO).
KvmResult HostMm::access_remote(Hva hva, std::span<std::uint8_t> buf, bool write) {
    for (std::size_t off = 0; off < buf.size();) {
        const Hva at = hva + off;
        const std::size_t chunk = std::min<std::size_t>(buf.size() - off, PAGE_SIZE - offset_in_page(at.value()));
        const vm_area_struct* vma = find_vma(at);
        if (!vma) return KvmResult::error(Errno::Efault);
        if (vma->is_pfnmap()) {
            // GUP refuses VM_PFNMAP; __access_remote_vm() then asks vm_ops->access, which for a
            // remap_pfn_range() driver is generic_access_phys(): a write needs a writable PTE.
            if (write && !vma->prot.write) return KvmResult::error(Errno::Efault);
        } else if (!check_vma_flags(*vma, GupFlags{.write = write, .force = true}).is_ok()) {
            return KvmResult::error(Errno::Efault);
        }
        auto it = pages_.find(at.value() & PAGE_MASK);
        if (it != pages_.end() && it->second.hwpoison) return KvmResult::error(Errno::Eio);
        // A missing page under a userfaultfd: __access_remote_vm() pins with
        // get_user_pages_remote() and no `locked`, so the fault may not be retried, and
        // handle_userfault() (fs/userfaultfd.c) refuses a fault without FAULT_FLAG_ALLOW_RETRY
        // with VM_FAULT_SIGBUS before queueing any message: EFAULT, and the handler sees nothing
        // (probed: kvmsim run --backend kvm scenarios/holes-and-uffd/uffd-missing-copy-private-pvm.json).
        if (it == pages_.end() && vma->uffd) return KvmResult::error(Errno::Efault);
        copy(at, buf.data() + off, chunk, Access::Debug, write);
        off += chunk;
    }
    return KvmResult::ok();
}

bool HostMm::access_mapped(Hva hva, std::span<std::uint8_t> buf, bool write) {
    for (std::size_t off = 0; off < buf.size();) {
        const Hva at = hva + off;
        if (!find_vma(at)) return false;
        auto it = pages_.find(at.value() & PAGE_MASK);
        if (it != pages_.end() && it->second.hwpoison) return false;
        off += std::min<std::size_t>(buf.size() - off, PAGE_SIZE - offset_in_page(at.value()));
    }
    return copy(hva, buf.data(), buf.size(), Access::Debug, write);
}

}  // namespace kvmsim
