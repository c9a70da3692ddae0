#include "guest_code.h"

#include <cstring>
#include <stdexcept>
#include <vector>

namespace kvmsim::sim::kvmhost::arm64 {
namespace {

// A64 encodings (Arm ARM C6), register numbers as in the comments.
constexpr std::uint32_t kX0 = 0, kX1 = 1, kX2 = 2, kX3 = 3, kX4 = 4, kX10 = 10;

unsigned size_field(unsigned size) { return size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3; }

// LDR/STR (immediate, unsigned offset 0): a single register, ISV set on a stage-2 abort.
std::uint32_t ldst_unsigned(bool load, unsigned size, std::uint32_t rt, std::uint32_t rn) {
    return 0x39000000u | size_field(size) << 30 | (load ? 1u : 0u) << 22 | rn << 5 | rt;
}
// LDR/STR (immediate, post-index #size): writeback, so ISV is 0.
std::uint32_t ldst_post(bool load, unsigned size, std::uint32_t rt, std::uint32_t rn) {
    return 0x38000400u | size_field(size) << 30 | (load ? 1u : 0u) << 22 | (size & 0x1ffu) << 12 | rn << 5 | rt;
}
// LDP/STP of two W registers at [rn]: a pair, so ISV is 0.
std::uint32_t ldst_pair_w(bool load, std::uint32_t rt, std::uint32_t rt2, std::uint32_t rn) {
    return 0x29000000u | (load ? 1u : 0u) << 22 | rt2 << 10 | rn << 5 | rt;
}
// STR Xt, [Xn, #off] (off a multiple of 8).
std::uint32_t str_x(std::uint32_t rt, std::uint32_t rn, std::uint64_t off) {
    return 0xf9000000u | static_cast<std::uint32_t>(off / 8) << 10 | rn << 5 | rt;
}
// MRS Xt, S3_<op1>_C<crn>_C<crm>_<op2>
std::uint32_t mrs(std::uint32_t rt, unsigned op1, unsigned crn, unsigned crm, unsigned op2) {
    return 0xd5380000u | op1 << 16 | crn << 12 | crm << 8 | op2 << 5 | rt;
}
std::uint32_t movz_x(std::uint32_t rd, std::uint16_t imm) { return 0xd2800000u | std::uint32_t{imm} << 5 | rd; }
constexpr std::uint32_t kOrrX1X2Lsl32 = 0xaa028021;  // orr x1, x1, x2, lsl #32
constexpr std::uint32_t kBlrX0 = 0xd63f0000;
constexpr std::uint32_t kBSelf = 0x14000000;  // b .
constexpr std::uint32_t kIcIallu = 0xd508751f, kDsbNsh = 0xd503379f, kIsb = 0xd5033fdf;
// TLBI VMALLE1; DSB ISH: every access walks the scenario's tables afresh, as the model does
// (it has no TLB), whatever the tables held at an earlier access.
constexpr std::uint32_t kTlbiVmalle1 = 0xd508871f, kDsbIsh = 0xd5033b9f;

constexpr std::uint64_t kRoutines = 0x800;
constexpr std::uint64_t kRoutineStride = 0x40;

void put(std::span<std::uint8_t> mem, std::uint64_t off, const std::vector<std::uint32_t>& code) {
    if (off + code.size() * 4 > mem.size()) throw std::logic_error("arm64 guest code does not fit");
    std::memcpy(mem.data() + off, code.data(), code.size() * 4);
}

unsigned size_index(unsigned size) { return size_field(size); }

}  // namespace

std::uint64_t GuestCode::routine(AccessKind kind, unsigned size, bool isv) {
    if (kind == AccessKind::Fetch) return kRoutines;
    if (kind == AccessKind::CacheMaintenance) return kCacheMaintRoutine;
    if (kind == AccessKind::Cas || kind == AccessKind::ZeroBlock || kind == AccessKind::At) return insn_routine(kind, size);
    const std::uint64_t index = 1 + (kind == AccessKind::Write ? 8 : 0) + (isv ? 0 : 4) + size_index(size);
    return kRoutines + index * kRoutineStride;
}

GuestCode::GuestCode(std::span<std::uint8_t> mem) {
    // Vectors: 16 entries of 0x80 bytes. Whatever the entry, the handler reports which one it
    // is, ESR_EL1 and FAR_EL1, and stops; the backend never returns from it.
    for (std::uint16_t v = 0; v < 16; ++v)
        put(mem, kVectors + v * 0x80u,
            {mrs(kX2, 0, 5, 2, 0), mrs(kX3, 0, 6, 0, 0), movz_x(kX4, v), str_x(kX4, kX10, kMailVector), str_x(kX2, kX10, kMailEsr),
             str_x(kX3, kX10, kMailFar), kBSelf});
    // A fetch: branch to the target, which holds `ret` while the fetch runs. The I-cache is
    // invalidated first since the backend rewrote the target from the host side.
    put(mem, routine(AccessKind::Fetch, 4, true), {kTlbiVmalle1, kIcIallu, kDsbIsh, kIsb, kBlrX0, str_x(kX1, kX10, kMailDone), kBSelf});
    for (AccessKind kind : {AccessKind::Read, AccessKind::Write})
        for (unsigned size : {1u, 2u, 4u, 8u})
            for (bool isv : {true, false}) {
                const bool load = kind == AccessKind::Read;
                std::vector<std::uint32_t> code = {kTlbiVmalle1, kDsbIsh, kIsb};
                if (isv) code.push_back(ldst_unsigned(load, size, kX1, kX0));
                else if (size < 8) code.push_back(ldst_post(load, size, kX1, kX0));
                else {
                    code.push_back(ldst_pair_w(load, kX1, kX2, kX0));
                    if (load) code.push_back(kOrrX1X2Lsl32);
                }
                code.push_back(str_x(kX1, kX10, kMailDone));
                code.push_back(kBSelf);
                put(mem, routine(kind, size, isv), code);
            }
    put_cache_maint_routine(mem);
    put_insn_routines(mem);
}

std::uint64_t GuestCode::build_high_tables(std::span<std::uint8_t> slot, std::uint64_t gpa, std::uint64_t slot_size) {
    // Descriptor bits: valid + table/page, AF, inner shareable, AttrIndx, PXN/UXN.
    constexpr std::uint64_t kTable = 3, kPage = 3 | 1u << 10 | 3u << 8, kDevice = 1u << 2 | std::uint64_t{3} << 53;
    const std::uint64_t tables = gpa + kHighTables;
    auto set = [&](unsigned table, std::uint64_t index, std::uint64_t v) {
        const std::uint64_t off = kHighTables + table * 0x1000u + index * 8;
        if (off + 8 > slot.size()) throw std::logic_error("arm64 high tables do not fit");
        std::memcpy(slot.data() + off, &v, 8);
    };
    std::memset(slot.data() + kHighTables, 0, 4 * 0x1000);
    set(0, (gpa >> 39) & 511, (tables + 0x1000) | kTable);
    set(1, (gpa >> 30) & 511, (tables + 0x2000) | kTable);
    set(2, (gpa >> 21) & 511, (tables + 0x3000) | kTable);
    for (std::uint64_t page = 0; page < slot_size / 0x1000; ++page) set(3, ((gpa >> 12) + page) & 511, (gpa + page * 0x1000) | kPage);
    set(3, ((gpa + slot_size) >> 12) & 511, (gpa + slot_size) | kPage | kDevice);
    return tables;
}

}  // namespace kvmsim::sim::kvmhost::arm64
