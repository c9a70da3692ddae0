// userfaultfd in MISSING mode: the first touch of a page that has no page yet (a private
// anonymous page never faulted in or dropped by MADV_DONTNEED; a shmem page missing from the
// page cache) is handed to the VMM's handler thread, which answers with UFFDIO_COPY or
// UFFDIO_ZEROPAGE; the faulting access (a VMM load, KVM's get_user_pages(), a copy_from_user()
// in KVM) then goes on as if the page had always been there. Each touch of a missing page is one
// fault, whoever makes it; a page already present never faults again.
#include <cstring>

#include "host_mm.h"

namespace kvmsim {

// models userfaultfd_register(), fs/userfaultfd.c, with UFFDIO_REGISTER_MODE_MISSING
KvmResult HostMm::uffd_register(Hva hva, std::uint64_t size, UffdServe serve) {
    // validate_range(): page-aligned start and length, not empty, inside the user address space.
    if (!page_aligned(hva.value()) || !page_aligned(size) || size == 0) return KvmResult::error(Errno::Einval);
    if (hva.value() >= TASK_SIZE_MAX || size > TASK_SIZE_MAX - hva.value()) return KvmResult::error(Errno::Einval);
    const Hva end = hva + size;
    // Every mapping the range meets must take a userfaultfd (vma_can_userfault(): anonymous,
    // shmem or hugetlb, so never VM_PFNMAP) and carry no other context's (EBUSY); a range that
    // meets no mapping at all is EINVAL. Holes between mappings are not checked.
    bool found = false;
    auto it = vmas_.upper_bound(hva.value());
    if (it != vmas_.begin() && std::prev(it)->second.vm_end > hva) --it;
    for (; it != vmas_.end() && it->second.vm_start < end; ++it) {
        found = true;
        if (it->second.is_pfnmap()) return KvmResult::error(Errno::Einval);
        if (it->second.uffd) return KvmResult::error(Errno::Ebusy);
    }
    if (!found) return KvmResult::error(Errno::Einval);
    // Each registration step is a userfaultfd(2) of its own: a new context.
    uffds_.push_back({hva, size, serve, 0, {}});
    if (serve.snapshot) {
        // What the handler will copy back: each page present now (bounded by the pages the
        // model holds, not by the size of the range).
        auto& snap = uffds_.back().snapshot;
        for (const auto& [page, hp] : pages_) {
            if (page < hva.value() || page >= end.value()) continue;
            auto& bytes = snap[page];
            if (hp.bytes) bytes = *hp.bytes;
            else bytes.fill(0);
        }
    }
    const auto id = static_cast<std::uint32_t>(uffds_.size());
    split_at(hva);
    split_at(end);
    for (auto v = vmas_.lower_bound(hva.value()); v != vmas_.end() && v->second.vm_start < end; ++v) v->second.uffd = id;
    return KvmResult::ok();
}

std::optional<std::uint64_t> HostMm::uffd_faults(Hva hva) const {
    for (const UffdCtx& c : uffds_)
        if (c.start == hva) return c.faults;
    return std::nullopt;
}

// models handle_userfault(), fs/userfaultfd.c, with the VMM's handler answering by
// mfill_atomic_copy() / mfill_atomic_zeropage() (mm/userfaultfd.c): called on the first touch
// of a missing page in a registered mapping; the page is then there with the handler's content.
void HostMm::handle_userfault(const vm_area_struct& vma, std::uint64_t page_hva, HostPage& page) {
    UffdCtx& ctx = uffds_.at(vma.uffd - 1);
    ++ctx.faults;
    if (ctx.serve.whole_range) {
        // mfill_atomic() from the range's start: each missing page gets its content, up to the
        // first page already there (EEXIST) or the end of the registration.
        for (std::uint64_t p = ctx.start.value(); p < ctx.start.value() + ctx.size; p += PAGE_SIZE) {
            if (p == page_hva) continue;  // the faulting page, filled below
            const vm_area_struct* v = find_vma(Hva(p));
            if (!v || v->uffd != vma.uffd || pages_.contains(p)) break;
            HostPage& hp = pages_[p];
            hp.pfn = Pfn(next_pfn_++);
            fill_from_uffd(ctx, p, hp);
        }
        invalidate_page_refs();  // cached 'not resident' answers for the pages just filled
    }
    fill_from_uffd(ctx, page_hva, page);
}

void HostMm::fill_from_uffd(const UffdCtx& ctx, std::uint64_t page_hva, HostPage& page) {
    if (ctx.serve.how == UffdServe::How::ZeroPage) return;  // reads as zeros
    page.zero_page = false;  // UFFDIO_COPY installs a page of its own, never the shared zero page
    if (ctx.serve.snapshot) {
        const auto it = ctx.snapshot.find(page_hva);
        if (it != ctx.snapshot.end()) page.bytes = std::make_unique<std::array<std::uint8_t, PAGE_SIZE>>(it->second);
        return;
    }
    if (ctx.serve.pattern == 0) return;
    page.bytes = std::make_unique<std::array<std::uint8_t, PAGE_SIZE>>();
    for (std::size_t off = 0; off < PAGE_SIZE; off += sizeof ctx.serve.pattern)
        std::memcpy(page.bytes->data() + off, &ctx.serve.pattern, sizeof ctx.serve.pattern);
}

}  // namespace kvmsim
