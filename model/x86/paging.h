// The vCPU's paging state (the control registers a VMM sets with KVM_SET_SREGS) and the guest
// paging modes KVM's walker handles, as data: one table row per mode drives the one walk loop.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../types.h"

namespace kvmsim {

// Control-register and EFER bits (arch/x86/include/uapi/asm/processor-flags.h, msr-index.h).
namespace x86 {
inline constexpr std::uint64_t CR0_PE = 1u << 0;
inline constexpr std::uint64_t CR0_WP = 1u << 16;
inline constexpr std::uint64_t CR0_NW = 1u << 29;
inline constexpr std::uint64_t CR0_CD = 1u << 30;
inline constexpr std::uint64_t CR0_PG = 1u << 31;
inline constexpr std::uint64_t CR4_PSE = 1u << 4;
inline constexpr std::uint64_t CR4_PAE = 1u << 5;
inline constexpr std::uint64_t CR4_LA57 = 1u << 12;
inline constexpr std::uint64_t CR4_PCIDE = 1u << 17;
inline constexpr std::uint64_t CR4_SMEP = 1u << 20;
inline constexpr std::uint64_t CR4_SMAP = 1u << 21;
inline constexpr std::uint64_t EFER_LME = 1u << 8;
inline constexpr std::uint64_t EFER_LMA = 1u << 10;
inline constexpr std::uint64_t EFER_NXE = 1u << 11;

// Guest PTE bits (arch/x86/include/asm/pgtable_types.h).
inline constexpr std::uint64_t PTE_P = 1u << 0;
inline constexpr std::uint64_t PTE_W = 1u << 1;
inline constexpr std::uint64_t PTE_U = 1u << 2;
inline constexpr std::uint64_t PTE_A = 1u << 5;
inline constexpr std::uint64_t PTE_D = 1u << 6;
inline constexpr std::uint64_t PTE_PS = 1u << 7;
inline constexpr std::uint64_t PTE_NX = std::uint64_t{1} << 63;

// #PF error code bits, PFERR_*_MASK (arch/x86/include/asm/kvm_host.h).
inline constexpr std::uint32_t PFERR_PRESENT = 1u << 0;
inline constexpr std::uint32_t PFERR_WRITE = 1u << 1;
inline constexpr std::uint32_t PFERR_USER = 1u << 2;
inline constexpr std::uint32_t PFERR_RSVD = 1u << 3;
inline constexpr std::uint32_t PFERR_FETCH = 1u << 4;

inline constexpr std::uint8_t kDfVector = 8;
inline constexpr std::uint8_t kGpVector = 13;
inline constexpr std::uint8_t kPfVector = 14;
}  // namespace x86

// The architectural state the walker reads: what KVM_SET_SREGS set, plus the PAE PDPTE
// registers load_pdptrs() filled from guest memory when CR3 was loaded.
struct X86PagingState {
    std::uint64_t cr0 = 0x60000010;  // the reset value: CD | NW | ET
    std::uint64_t cr3 = 0;
    std::uint64_t cr4 = 0;
    std::uint64_t efer = 0;
    std::array<std::uint64_t, 4> pdptrs{};  // vcpu->arch.pdptrs, PAE paging only
    // IDTR base: where exception delivery reads its gate. Unset: the model reports a fault
    // without delivering it (it cannot know where the guest's IDT is).
    std::optional<Gva> idt_base;
};

enum class PagingMode { None, Bits32, Pae, Level4, Level5 };

// One mode's shape (paging_tmpl.h's PTTYPE plus mmu->cpu_role.base.level).
struct PagingModeInfo {
    PagingMode mode;
    std::string_view name;     // as scenarios and traces spell it
    unsigned root_level;       // mmu->root_level: 2, 3 (PAE: the PDPTE registers), 4 or 5
    unsigned pte_size;         // sizeof(pt_element_t): 4 or 8
    unsigned index_bits;       // PT_LEVEL_BITS: 10 or 9
};

[[nodiscard]] const PagingModeInfo& paging_mode_info(PagingMode m);
[[nodiscard]] std::optional<PagingMode> paging_mode_from_string(std::string_view name);
// models the role computation of kvm_calc_cpu_role(), arch/x86/kvm/mmu/mmu.c
[[nodiscard]] PagingMode paging_mode(const X86PagingState& s);
// The level's table-entry name, "PML4E", "PDE", ... for traces.
[[nodiscard]] std::string_view level_name(PagingMode m, unsigned level);
// models PT_INDEX() / PT64_INDEX() / PT32_INDEX(), arch/x86/kvm/mmu/paging_tmpl.h
[[nodiscard]] unsigned pt_index(PagingMode m, Gva gva, unsigned level);
// Bytes mapped by one entry at this level (4K, 2M / 4M, 1G, ...).
[[nodiscard]] std::uint64_t level_page_size(PagingMode m, unsigned level);

// What the guest's CPUID says about paging; KVM_GET_SUPPORTED_CPUID on the host gives these.
struct GuestCpuid {
    unsigned maxphyaddr = 46;
    bool gbpages = true;      // PDPE1GB: 1G pages
    bool amd = false;         // guest_cpuid_is_amd_or_hygon(): bit 8 of non-leaf entries is reserved
};

// models __reset_rsvds_bits_mask() + is_rsvd_bits_set(), arch/x86/kvm/mmu/mmu.c and spte.h
[[nodiscard]] bool is_rsvd_bits_set(const X86PagingState& s, const GuestCpuid& cpuid, std::uint64_t pte, unsigned level);
// models is_last_gpte(), arch/x86/kvm/mmu/mmu.h: whether this entry ends the walk.
[[nodiscard]] bool is_last_gpte(const X86PagingState& s, std::uint64_t pte, unsigned level);
// models gpte_to_gfn_lvl() plus pse36_gfn_delta(): the frame an entry maps or points to.
[[nodiscard]] Gfn gpte_to_gfn(PagingMode m, std::uint64_t pte, unsigned level, bool leaf);
// Whether a linear address is canonical for the mode (is_noncanonical_address()).
[[nodiscard]] bool is_canonical(PagingMode m, Gva gva);

}  // namespace kvmsim
