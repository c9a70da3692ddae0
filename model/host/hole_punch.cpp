// Punching holes in the VMM's memory: madvise(MADV_DONTNEED) and fallocate(PUNCH_HOLE) on a
// memfd. What the guest sees afterwards follows from what each drops: MADV_DONTNEED drops the
// page table entries (and with them a private anonymous page, so the next touch gets a new zero
// page), but a MAP_SHARED page lives on in shmem's page cache and comes back unchanged on the
// next fault; PUNCH_HOLE drops the page cache itself, so a shared page comes back as zeros.
#include <algorithm>
#include <cstring>
#include <limits>

#include "host_mm.h"

namespace kvmsim {

void HostMm::drop_pages(std::uint64_t lo, std::uint64_t hi) {
    invalidate_page_refs();  // the pages erased below
    split_thp(lo, hi);
    // Page by page for a small range, one pass over the resident pages for a large one: either
    // way bounded by the pages the model holds, not by the size of the range.
    if ((hi - lo) / PAGE_SIZE < pages_.size()) {
        for (std::uint64_t p = lo; p < hi; p += PAGE_SIZE) pages_.erase(p);
    } else {
        std::erase_if(pages_, [&](const auto& kv) { return kv.first >= lo && kv.first < hi; });
    }
}

// models do_madvise() and madvise_walk_vmas() with MADV_DONTNEED, mm/madvise.c
KvmResult HostMm::madvise_dontneed(Hva hva, std::uint64_t size, HvaRange& zapped) {
    zapped = {};
    if (!page_aligned(hva.value())) return KvmResult::error(Errno::Einval);
    const std::uint64_t len = (size + PAGE_SIZE - 1) & PAGE_MASK;
    if (size != 0 && len == 0) return KvmResult::error(Errno::Einval);  // PAGE_ALIGN() wrapped
    if (hva.value() + len < hva.value()) return KvmResult::error(Errno::Einval);
    if (len == 0) return KvmResult::ok();
    const Hva end = hva + len;

    // A hole in the range is ENOMEM, but only once every mapping in it has been advised; a
    // mapping that refuses the advice stops the walk there with its own error.
    bool unmapped = false;
    Hva at = hva;
    while (at < end) {
        auto it = vmas_.upper_bound(at.value());
        const vm_area_struct* vma = nullptr;
        if (it != vmas_.begin() && std::prev(it)->second.contains(at)) vma = &std::prev(it)->second;
        else if (it != vmas_.end() && it->second.vm_start < end) vma = &it->second;
        if (!vma) return KvmResult::error(Errno::Enomem);  // nothing mapped from here to the end
        if (at < vma->vm_start) {
            unmapped = true;
            at = vma->vm_start;
        }
        // madvise_dontneed_free_valid_vma(): VM_PFNMAP (and VM_LOCKED, not modelled) refuse it.
        if (vma->is_pfnmap()) return KvmResult::error(Errno::Einval);
        const Hva stop = std::min(vma->vm_end, end);
        // zap_page_range_single(): the PTEs go. A private anonymous page has nothing else
        // holding it and is freed (hwpoison marker included); a shared page stays in the page
        // cache for the next fault to find.
        if (vma->kind == MappingKind::Anonymous) {
            drop_pages(at.value(), stop.value());
        }
        if (zapped.empty()) zapped.start = at;
        zapped.end = stop;
        at = stop;
    }
    return unmapped ? KvmResult::error(Errno::Enomem) : KvmResult::ok();
}

std::optional<std::pair<Hva, const vm_area_struct*>> HostMm::mapping_origin(const std::string& name) const {
    for (const auto& [start, vma] : vmas_)
        if (vma.name == name) return std::pair{Hva(vma.vm_start.value() - (vma.pgoff << PAGE_SHIFT)), &vma};
    return std::nullopt;
}

// models vfs_fallocate(), fs/open.c, into shmem_fallocate(), mm/shmem.c (hole punching only)
KvmResult HostMm::fallocate(const std::string& name, FallocMode mode, std::uint64_t offset, std::uint64_t len, HvaRange& zapped) {
    zapped = {};
    constexpr std::uint64_t kMaxLfs = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());  // MAX_LFS_FILESIZE
    // offset and len are loff_t: a value past 2^63 is negative.
    if (offset > kMaxLfs || len == 0 || len > kMaxLfs) return KvmResult::error(Errno::Einval);
    if (mode.punch_hole && !mode.keep_size) return KvmResult::error(Errno::Eopnotsupp);
    if (offset + len > kMaxLfs) return KvmResult::error(Errno::Efbig);  // s_maxbytes, or the sum wrapped past 2^63
    if (!mode.punch_hole) return KvmResult::error(Errno::Eopnotsupp);  // callers validate; allocation is not modelled

    const auto origin = mapping_origin(name);
    // The VMM still holds the fd after munmap; with no mapping left the model has no page of
    // the file to drop (munmap dropped them), so the punch changes nothing it can show.
    if (!origin) return KvmResult::ok();
    if (origin->second->backing != Backing::Memfd) return KvmResult::error(Errno::Ebadf);
    const std::uint64_t base = origin->first.value();
    const std::uint64_t last = offset + len;  // exclusive

    // Whole pages: unmap_mapping_range() zaps their PTEs in every mapping of the file, then
    // shmem_undo_range() drops them from the page cache.
    const std::uint64_t whole_lo = (offset + PAGE_SIZE - 1) & PAGE_MASK;
    const std::uint64_t whole_hi = last & PAGE_MASK;
    // Partial pages at either end stay, with the punched bytes zeroed (truncate_inode_partial_folio()).
    auto zero_part = [&](std::uint64_t from, std::uint64_t to) {
        if (from >= to) return;
        const std::uint64_t page = base + (from & PAGE_MASK);
        if (page < base) return;
        auto it = pages_.find(page);
        if (it == pages_.end() || !it->second.bytes) return;
        std::memset(it->second.bytes->data() + (from & ~PAGE_MASK), 0, to - from);
    };
    if (whole_lo > whole_hi) {  // the range lies inside one page
        zero_part(offset, last);
        return KvmResult::ok();
    }
    zero_part(offset, whole_lo);
    zero_part(whole_hi, last);
    if (whole_lo == whole_hi) return KvmResult::ok();
    for (const auto& [start, vma] : vmas_) {
        if (vma.name != name) continue;
        const std::uint64_t lo = std::max(vma.vm_start.value(), base + whole_lo);
        const std::uint64_t hi = std::min(vma.vm_end.value(), base + whole_hi < base ? vma.vm_end.value() : base + whole_hi);
        if (lo >= hi) continue;
        drop_pages(lo, hi);
        if (zapped.empty() || Hva(lo) < zapped.start) zapped.start = Hva(lo);
        if (Hva(hi) > zapped.end) zapped.end = Hva(hi);
    }
    return KvmResult::ok();
}

}  // namespace kvmsim
