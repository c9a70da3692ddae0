// A memslot's dirty bitmap (slot->dirty_bitmap, virt/kvm/kvm_main.c): one bit per page, read
// and cleared a 64-bit word at a time as the kernel does. The kernel allocates npages bits up
// front (kvm_alloc_dirty_bitmap); the model stores runs of equal non-zero words instead, so an
// 8 TiB slot costs what the guest dirtied (or one run when KVM_DIRTY_LOG_INITIALLY_SET filled it)
// and every operation is proportional to the runs it touches, never to the slot's size.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <vector>

namespace kvmsim {

class DirtyBitmap {
public:
    DirtyBitmap() = default;
    // A bitmap of npages bits, all clear (kvzalloc).
    explicit DirtyBitmap(std::uint64_t npages) : allocated_(true), npages_(npages) {}
    // From words as userspace lays them out (tests and the KVM_CLEAR_DIRTY_LOG buffer).
    static DirtyBitmap from_words(const std::vector<std::uint64_t>& words);

    // slot->dirty_bitmap == NULL: the slot does not log (the kernel's test is the pointer).
    [[nodiscard]] bool empty() const { return !allocated_; }
    void free() { *this = DirtyBitmap(); }
    [[nodiscard]] std::uint64_t npages() const { return npages_; }
    [[nodiscard]] std::uint64_t nr_words() const { return (npages_ + 63) / 64; }
    // Words userspace receives: ALIGN(npages, BITS_PER_LONG) / 8 bytes.
    [[nodiscard]] std::uint64_t size() const { return nr_words(); }

    // bitmap_set(bitmap, 0, npages): every page dirty.
    void set_all();
    // set_bit_le(page): one page dirty.
    void set(std::uint64_t page);
    [[nodiscard]] bool test(std::uint64_t page) const { return (word(page / 64) >> (page % 64)) & 1; }
    // The w'th word (0 past the end or in a clean stretch).
    [[nodiscard]] std::uint64_t word(std::uint64_t w) const;
    [[nodiscard]] std::uint64_t operator[](std::uint64_t w) const { return word(w); }
    [[nodiscard]] std::uint64_t at(std::uint64_t w) const {
        if (w >= nr_words()) throw std::out_of_range("DirtyBitmap::at");
        return word(w);
    }
    // Every word clear (memset of the whole bitmap, as the get-log path without manual protect does).
    void clear_all() { runs_.clear(); }
    // words [first_word + i] &= ~mask[i] for the first n words of mask (atomic_long_fetch_andnot
    // in kvm_clear_dirty_log_protect()); words past this bitmap's end are ignored.
    void andnot(std::uint64_t first_word, const DirtyBitmap& mask, std::uint64_t n);

    // Calls fn(first_word, end_word, value) for each stretch of equal non-zero words, in order.
    template <typename Fn>
    void for_each_run(Fn&& fn) const {
        for (const auto& [first, run] : runs_) fn(first, run.end, run.value);
    }
    // Number of dirty pages (bits set).
    [[nodiscard]] std::uint64_t count() const;
    [[nodiscard]] std::size_t nr_runs() const { return runs_.size(); }
    // Runs are ordered, disjoint, non-empty, non-zero and inside nr_words() (for the invariant checker).
    [[nodiscard]] bool well_formed() const;

    bool operator==(const DirtyBitmap& o) const;

private:
    struct Run {
        std::uint64_t end;    // exclusive word index
        std::uint64_t value;  // every word of the run
    };
    // Makes w the first word of a run if a run covers it.
    void split(std::uint64_t w);
    // Joins the run starting at w with its predecessor when they touch and hold the same value.
    void coalesce(std::uint64_t w);

    bool allocated_ = false;
    std::uint64_t npages_ = 0;
    std::map<std::uint64_t, Run> runs_;  // by first word
};

}  // namespace kvmsim
