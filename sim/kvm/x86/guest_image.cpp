#include "guest_image.h"

#include <array>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace kvmsim::sim::kvmhost {
namespace {

// Region layout, offsets from base.
constexpr std::uint64_t kGdt = 0x0;
constexpr std::uint64_t kIdt = 0x100;       // the identity view's IDT
constexpr std::uint64_t kAliasIdt = 0x300;  // the alias view's IDT
constexpr unsigned kVectors = 32;
constexpr std::uint64_t kCode = 0x1000;
constexpr std::uint64_t kStubs = 0x1400;
constexpr std::uint64_t kStubSize = 16;
constexpr std::uint64_t kCommon = kStubs + kVectors * kStubSize;
constexpr std::uint64_t kPml4 = 0x2000;
constexpr std::uint64_t kStackTop = 0x5000;  // pages 3-4
constexpr std::uint64_t kPool = 0x5000;

constexpr std::uint64_t kPresent = 1, kWritable = 2, kAccessed = 0x20, kDirty = 0x40, kLarge = 0x80;
constexpr std::uint64_t kCr0Pe = 1, kCr0Et = 1u << 4, kCr0Ne = 1u << 5, kCr0Wp = 1u << 16, kCr0Pg = 1ull << 31;
constexpr std::uint64_t kCr4Pae = 1u << 5;
constexpr std::uint64_t kEferLme = 1u << 8, kEferLma = 1u << 10;
constexpr std::uint64_t kPage = 0x1000, kLargePage = 0x200000;

// One routine per access: the load or store (rdi = address, rsi = data), then hlt. The
// encodings are the plain MOV forms, so the kernel's emulator and the CPU agree on them.
struct Routine {
    GuestOp op;
    unsigned size;
    std::vector<std::uint8_t> bytes;
};
const std::array<Routine, 8>& routines() {
    static const std::array<Routine, 8> r = {{
        {GuestOp::Read, 1, {0x8a, 0x07}},               // mov (%rdi),%al
        {GuestOp::Read, 2, {0x66, 0x8b, 0x07}},         // mov (%rdi),%ax
        {GuestOp::Read, 4, {0x8b, 0x07}},               // mov (%rdi),%eax
        {GuestOp::Read, 8, {0x48, 0x8b, 0x07}},         // mov (%rdi),%rax
        {GuestOp::Write, 1, {0x40, 0x88, 0x37}},        // mov %sil,(%rdi)
        {GuestOp::Write, 2, {0x66, 0x89, 0x37}},        // mov %si,(%rdi)
        {GuestOp::Write, 4, {0x89, 0x37}},              // mov %esi,(%rdi)
        {GuestOp::Write, 8, {0x48, 0x89, 0x37}},        // mov %rsi,(%rdi)
    }};
    return r;
}
constexpr std::uint64_t kRoutineSlot = 16;
constexpr std::uint8_t kHlt = 0xf4;

// Vectors for which the CPU pushes an error code (SDM vol. 3, table 6-1).
bool pushes_error_code(unsigned v) { return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30; }

}  // namespace

GuestImage::GuestImage(std::span<std::uint8_t> mem, Gpa base) : mem_(mem), base_(base), next_free_page_(kPool) {
    if (mem.size() < kSize) throw std::logic_error("guest image region too small");
    std::memset(mem_.data(), 0, kSize);
    // GDT: null, 64-bit code (selector 0x08), data (0x10).
    const std::array<std::uint64_t, 3> gdt = {0, 0x00209a0000000000ull, 0x0000920000000000ull};
    std::memcpy(mem_.data() + kGdt, gdt.data(), sizeof gdt);
    write_code();
    write_idt(kIdt, base_.value());
    if (!map_identity(base_, kSize)) throw std::logic_error("guest image cannot map itself");
}

void GuestImage::write_idt(std::uint64_t offset, std::uint64_t linear_base) {
    for (unsigned v = 0; v < kVectors; ++v) {
        const std::uint64_t h = linear_base + kStubs + v * kStubSize;
        const std::array<std::uint64_t, 2> gate = {
            (h & 0xffff) | (std::uint64_t{0x08} << 16) | (std::uint64_t{0x8e} << 40) | (((h >> 16) & 0xffff) << 48), h >> 32};
        std::memcpy(mem_.data() + offset + v * 16, gate.data(), sizeof gate);
    }
}

std::uint64_t GuestImage::make_alias(unsigned pml4_index) {
    std::uint64_t gva = std::uint64_t{pml4_index & 511} << 39;
    if (gva & (std::uint64_t{1} << 47)) gva |= 0xffff000000000000ull;  // canonical upper half
    if (!alias_base_ || *alias_base_ != gva) {
        const std::uint64_t pdpt = next_table_or_zero(), pd = next_table_or_zero();
        if (!pdpt || !pd) throw std::logic_error("guest image has no room for the alias tables");
        table(pdpt)[0] = pd | kPresent | kWritable | kAccessed;
        table(pd)[0] = base_.value() | kPresent | kWritable | kAccessed | kDirty | kLarge;
        write_idt(kAliasIdt, gva);
        alias_pml4e_ = pdpt | kPresent | kWritable | kAccessed;
        alias_base_ = gva;
    }
    return alias_pml4e_;
}

GuestContext GuestImage::context_at(std::uint64_t linear_base, std::uint64_t idt_offset, GuestOp op, unsigned size) const {
    GuestContext c;
    c.gdt = linear_base + kGdt;
    c.gdt_limit = 3 * 8 - 1;
    c.idt = linear_base + idt_offset;
    c.idt_limit = kVectors * 16 - 1;
    c.rip = linear_base + (routine(op, size) - base_.value());
    c.rsp = linear_base + kStackTop;
    c.exception_halt_rip = linear_base + kCommon + 3;
    return c;
}

GuestContext GuestImage::identity_context(GuestOp op, unsigned size) const {
    GuestContext c = context_at(base_.value(), kIdt, op, size);
    c.cr0 = kCr0Pe | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
    c.cr3 = cr3();
    c.cr4 = kCr4Pae;
    c.efer = kEferLme | kEferLma;
    return c;
}

GuestContext GuestImage::alias_context(const ScenarioPaging& paging, GuestOp op, unsigned size) const {
    if (!alias_base_) throw std::logic_error("alias_context before make_alias");
    GuestContext c = context_at(*alias_base_, kAliasIdt, op, size);
    c.cr0 = paging.cr0;
    c.cr3 = paging.cr3;
    c.cr4 = paging.cr4;
    c.efer = paging.efer;
    return c;
}

void GuestImage::write_code() {
    std::uint64_t off = kCode;
    for (const Routine& r : routines()) {
        std::memcpy(mem_.data() + off, r.bytes.data(), r.bytes.size());
        mem_[off + r.bytes.size()] = kHlt;
        off += kRoutineSlot;
    }
    for (unsigned v = 0; v < kVectors; ++v) {
        std::uint8_t* p = mem_.data() + kStubs + v * kStubSize;
        std::uint64_t at = kStubs + v * kStubSize;
        if (!pushes_error_code(v)) *p++ = 0x6a, *p++ = 0x00, at += 2;  // push $0 in place of an error code
        *p++ = 0x6a, *p++ = static_cast<std::uint8_t>(v), at += 2;      // push $vector
        const auto rel = static_cast<std::int32_t>(static_cast<std::int64_t>(kCommon) - static_cast<std::int64_t>(at + 5));
        *p++ = 0xe9;  // jmp common
        std::memcpy(p, &rel, 4);
    }
    // common: pop %rcx (vector); pop %rax (error code); hlt
    const std::array<std::uint8_t, 3> common = {0x59, 0x58, kHlt};
    std::memcpy(mem_.data() + kCommon, common.data(), common.size());
}

std::uint64_t GuestImage::routine(GuestOp op, unsigned size) const {
    std::uint64_t off = kCode;
    for (const Routine& r : routines()) {
        if (r.op == op && r.size == size) return base_.value() + off;
        off += kRoutineSlot;
    }
    throw std::logic_error("no guest routine for this access size");
}

std::uint64_t GuestImage::cr3() const { return base_.value() + kPml4; }

std::uint64_t* GuestImage::table(std::uint64_t gpa) { return reinterpret_cast<std::uint64_t*>(mem_.data() + (gpa - base_.value())); }

std::uint64_t GuestImage::next_table_or_zero() {
    if (next_free_page_ + kPage > kSize) return 0;
    const std::uint64_t gpa = base_.value() + next_free_page_;
    next_free_page_ += kPage;
    return gpa;
}

bool GuestImage::map_identity(Gpa gpa, std::uint64_t len) {
    const std::uint64_t first = gpa.value() & ~(kLargePage - 1);
    const std::uint64_t last = (gpa.value() + (len ? len - 1 : 0)) & ~(kLargePage - 1);
    for (std::uint64_t a = first;; a += kLargePage) {
        std::uint64_t* pml4 = table(cr3());
        std::uint64_t& e4 = pml4[(a >> 39) & 511];
        if (!(e4 & kPresent)) {
            const std::uint64_t t = next_table_or_zero();
            if (!t) return false;
            e4 = t | kPresent | kWritable;
        }
        std::uint64_t& e3 = table(e4 & ~(kPage - 1))[(a >> 30) & 511];
        if (!(e3 & kPresent)) {
            const std::uint64_t t = next_table_or_zero();
            if (!t) return false;
            e3 = t | kPresent | kWritable;
        }
        table(e3 & ~(kPage - 1))[(a >> 21) & 511] = a | kPresent | kWritable | kLarge;
        if (a == last) break;
    }
    return true;
}

}  // namespace kvmsim::sim::kvmhost
