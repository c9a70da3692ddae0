// Address types of the kernel model: gfn_t, gpa_t, gva_t, hva (unsigned long) and kvm_pfn_t.
// Each is its own type so a gfn can never be passed where an hva is meant.
#pragma once

#include <compare>
#include <cstdint>

namespace kvmsim {

inline constexpr unsigned PAGE_SHIFT = 12;
inline constexpr std::uint64_t PAGE_SIZE = std::uint64_t{1} << PAGE_SHIFT;
inline constexpr std::uint64_t PAGE_MASK = ~(PAGE_SIZE - 1);

template <typename Tag>
class Address {
public:
    constexpr Address() = default;
    constexpr explicit Address(std::uint64_t v) : value_(v) {}
    [[nodiscard]] constexpr std::uint64_t value() const { return value_; }
    constexpr auto operator<=>(const Address&) const = default;
    [[nodiscard]] constexpr Address operator+(std::uint64_t n) const { return Address(value_ + n); }
    [[nodiscard]] constexpr std::uint64_t operator-(Address o) const { return value_ - o.value_; }

private:
    std::uint64_t value_ = 0;
};

struct GfnTag {};
struct GpaTag {};
struct GvaTag {};
struct HvaTag {};
struct PfnTag {};

using Gfn = Address<GfnTag>;  // guest frame number (gfn_t)
using Gpa = Address<GpaTag>;  // guest physical address (gpa_t)
using Gva = Address<GvaTag>;  // guest virtual address (gva_t)
using Hva = Address<HvaTag>;  // host virtual address in the VMM (unsigned long hva)
using Pfn = Address<PfnTag>;  // host page frame number (kvm_pfn_t), the model's own numbering

[[nodiscard]] constexpr Gpa gfn_to_gpa(Gfn gfn) { return Gpa(gfn.value() << PAGE_SHIFT); }
[[nodiscard]] constexpr Gfn gpa_to_gfn(Gpa gpa) { return Gfn(gpa.value() >> PAGE_SHIFT); }
[[nodiscard]] constexpr std::uint64_t offset_in_page(std::uint64_t addr) { return addr & (PAGE_SIZE - 1); }
[[nodiscard]] constexpr bool page_aligned(std::uint64_t addr) { return offset_in_page(addr) == 0; }

}  // namespace kvmsim
