#include "host_mm.h"

#include <algorithm>
#include <cstring>
#include <iterator>

namespace kvmsim {
namespace {

bool overlaps(const vm_area_struct& v, Hva start, Hva end) { return v.vm_start < end && start < v.vm_end; }

}  // namespace

// models do_mmap() with MAP_FIXED_NOREPLACE, mm/mmap.c
KvmResult HostMm::mmap(Hva hva, std::uint64_t size, Prot prot, MappingKind kind, const std::string& name) {
    if (!page_aligned(hva.value()) || size == 0) return KvmResult::error(Errno::Einval);
    const std::uint64_t len = (size + PAGE_SIZE - 1) & PAGE_MASK;
    if (len < size || hva.value() > TASK_SIZE_MAX || len > TASK_SIZE_MAX - hva.value())
        return KvmResult::error(Errno::Enomem);
    const Hva end = hva + len;
    auto it = vmas_.upper_bound(hva.value());
    if (it != vmas_.begin() && overlaps(std::prev(it)->second, hva, end)) return KvmResult::error(Errno::Eexist);
    if (it != vmas_.end() && overlaps(it->second, hva, end)) return KvmResult::error(Errno::Eexist);

    vm_area_struct vma{hva, end, prot, kind, name, 0, 0};
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

// models madvise_inject_error(), mm/madvise.c: the page is faulted in, then marked poisoned.
KvmResult HostMm::madvise_hwpoison(Hva hva) {
    const Hva page(hva.value() & PAGE_MASK);
    const vm_area_struct* vma = find_vma(page);
    // madvise_inject_error() pins the page with get_user_pages_fast(), which refuses VM_PFNMAP
    // (check_vma_flags(): VM_IO | VM_PFNMAP) just as it refuses a hole: EFAULT either way.
    if (!vma || vma->is_pfnmap()) return KvmResult::error(Errno::Efault);
    fault_in(page).hwpoison = true;
    return KvmResult::ok();
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

HostPage& HostMm::fault_in(Hva page) {
    PageRef& r = page_ref(page.value());
    if (r.page) return *r.page;  // present: no insert, no hash
    HostPage& p = pages_[page.value()];
    p.pfn = (r.vma && r.vma->is_pfnmap()) ? pfnmap_pfn(*r.vma, page) : Pfn(next_pfn_++);
    p.vma = r.vma;
    p.vma_gen = page_ref_gen_;
    r.page = &p;
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
    HostPage& page = fault_in(Hva(hva.value() & PAGE_MASK));
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
            HostPage& page = fault_in(page_hva);
            if (page.hwpoison) return false;
            if (!page.bytes) page.bytes = std::make_unique<std::array<std::uint8_t, PAGE_SIZE>>();
            std::memcpy(page.bytes->data() + offset_in_page(at.value()), buf + done, chunk);
        } else {
            const HostPage* page = r.page;
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
