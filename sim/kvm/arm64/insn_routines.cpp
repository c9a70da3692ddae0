// The arm64 guest's routines for the instructions that are more than a load or store: CASAL (x2 the
// expected value, x1 the new one; the old value comes back in x2), DC ZVA and AT S1E1R (PAR_EL1
// back in x1). On a stage-2 abort CAS and DC ZVA report ESR_EL2.ISV = 0; AT's only stage-2
// accesses are its walk's (S1PTW = 1, CM = 1). Each ends with the mailbox store of kMailDone.
#include <cstring>
#include <stdexcept>

#include "guest_code.h"

namespace kvmsim::sim::kvmhost::arm64 {
namespace {

// A64 encodings, checked against binutils' aarch64 assembler.
constexpr std::uint32_t kCasalX = 0xc8e2fc01;      // casal x2, x1, [x0]
constexpr std::uint32_t kCasalW = 0x88e2fc01;      // casal w2, w1, [x0]
constexpr std::uint32_t kDcZvaX0 = 0xd50b7420;     // dc zva, x0
constexpr std::uint32_t kAtS1e1rX0 = 0xd5087800;   // at s1e1r, x0
constexpr std::uint32_t kMrsX1Par = 0xd5387401;    // mrs x1, par_el1
constexpr std::uint32_t kStrX1Done = 0xf9000141;   // str x1, [x10, #kMailDone]
constexpr std::uint32_t kStrX2Done = 0xf9000142;   // str x2, [x10, #kMailDone]
constexpr std::uint32_t kTlbiVmalle1 = 0xd508871f, kDsbIsh = 0xd5033b9f, kIsb = 0xd5033fdf, kBSelf = 0x14000000;
static_assert(kMailDone == 0);

void put(std::span<std::uint8_t> mem, std::uint64_t off, std::initializer_list<std::uint32_t> code) {
    if (off + code.size() * 4 > mem.size() || off + code.size() * 4 > GuestCode::kSize) throw std::logic_error("arm64 instruction routine does not fit");
    std::memcpy(mem.data() + off, code.begin(), code.size() * 4);
}

}  // namespace

std::uint64_t insn_routine(AccessKind kind, unsigned size) {
    switch (kind) {
    case AccessKind::Cas: return size == 8 ? kInsnRoutines : kInsnRoutines + 0x40;
    case AccessKind::ZeroBlock: return kInsnRoutines + 0x80;
    case AccessKind::At: return kInsnRoutines + 0xc0;
    default: throw std::logic_error("not an instruction routine");
    }
}

void put_insn_routines(std::span<std::uint8_t> mem) {
    // Every routine starts afresh from the scenario's tables (no stale TLB entry), as the model does.
    put(mem, insn_routine(AccessKind::Cas, 8), {kTlbiVmalle1, kDsbIsh, kIsb, kCasalX, kStrX2Done, kBSelf});
    put(mem, insn_routine(AccessKind::Cas, 4), {kTlbiVmalle1, kDsbIsh, kIsb, kCasalW, kStrX2Done, kBSelf});
    put(mem, insn_routine(AccessKind::ZeroBlock, 8), {kTlbiVmalle1, kDsbIsh, kIsb, kDcZvaX0, kDsbIsh, kStrX1Done, kBSelf});
    put(mem, insn_routine(AccessKind::At, 8), {kTlbiVmalle1, kDsbIsh, kIsb, kAtS1e1rX0, kIsb, kMrsX1Par, kStrX1Done, kBSelf});
}

}  // namespace kvmsim::sim::kvmhost::arm64
