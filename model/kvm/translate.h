// gfn -> hva -> pfn translation (virt/kvm/kvm_main.c), each outcome a value named as the kernel
// names it, and the guest-memory copy helpers built on it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "../result.h"
#include "../types.h"
#include "memslot.h"

namespace kvmsim {

class kvm;
struct kvm_vcpu;

enum class HvaError {
    Bad,    // KVM_HVA_ERR_BAD: no slot, or the slot is being deleted or moved
    RoBad,  // KVM_HVA_ERR_RO_BAD: a write translation of a read-only slot
};

// KVM_HVA_ERR_BAD is PAGE_OFFSET and KVM_HVA_ERR_RO_BAD the page after it (kvm_host.h): the
// x86-64 4-level PAGE_OFFSET without KASLR, which randomises it on real hosts.
inline constexpr std::uint64_t kPageOffset = 0xffff888000000000ULL;
inline constexpr Hva KVM_HVA_ERR_BAD_VALUE{kPageOffset};
inline constexpr Hva KVM_HVA_ERR_RO_BAD_VALUE{kPageOffset + PAGE_SIZE};

struct HvaLookup {
    Hva hva;  // on error, the error value the kernel returns in its place
    std::optional<HvaError> error;
    std::uint64_t nr_pages = 0;  // pages from gfn to the end of the slot
    bool writable = false;       // the *writable out-value of the _prot variants
    [[nodiscard]] bool ok() const { return !error; }
};

enum class PfnError {
    Fault,       // KVM_PFN_ERR_FAULT
    Hwpoison,    // KVM_PFN_ERR_HWPOISON
    RoFault,     // KVM_PFN_ERR_RO_FAULT
    Noslot,      // KVM_PFN_NOSLOT
    Bad,         // KVM_PFN_ERR_BAD (error hva, before KVM_PFN_NOSLOT took its place)
    Sigpending,  // KVM_PFN_ERR_SIGPENDING
};

struct PfnLookup {
    Pfn pfn;
    std::optional<PfnError> error;
    bool writable = false;  // may the pfn be mapped writable
    [[nodiscard]] bool ok() const { return !error; }
};

// What the caller of a translation wants.
struct TranslateFlags {
    bool write = false;          // a write access (FOLL_WRITE / write_fault)
    bool want_writable = false;  // map a read writable if possible (map_writable != NULL)
};

[[nodiscard]] std::string_view to_string(HvaError e);
[[nodiscard]] std::string_view to_string(PfnError e);

// models __gfn_to_hva_many(), virt/kvm/kvm_main.c
[[nodiscard]] HvaLookup gfn_to_hva_many_inner(const kvm& kvm, const kvm_memory_slot* slot, Gfn gfn, TranslateFlags flags);
// models gfn_to_hva_many(), virt/kvm/kvm_main.c (a write translation)
[[nodiscard]] HvaLookup gfn_to_hva_many(const kvm& kvm, const kvm_memory_slot* slot, Gfn gfn);
// models gfn_to_hva(), virt/kvm/kvm_main.c
[[nodiscard]] HvaLookup gfn_to_hva(kvm& kvm, Gfn gfn);
// models gfn_to_hva_memslot_prot(), virt/kvm/kvm_main.c (a read translation reporting writability)
[[nodiscard]] HvaLookup gfn_to_hva_memslot_prot(const kvm& kvm, const kvm_memory_slot* slot, Gfn gfn);
// models gfn_to_hva_prot(), virt/kvm/kvm_main.c
[[nodiscard]] HvaLookup gfn_to_hva_prot(kvm& kvm, Gfn gfn);

// models hva_to_pfn(), virt/kvm/kvm_main.c
[[nodiscard]] PfnLookup hva_to_pfn(kvm& kvm, Hva hva, TranslateFlags flags);
// models __gfn_to_pfn_memslot(), virt/kvm/kvm_main.c (kvm_follow_pfn() since 6.12)
[[nodiscard]] PfnLookup gfn_to_pfn_memslot_inner(kvm& kvm, const kvm_memory_slot* slot, Gfn gfn, TranslateFlags flags);

// models kvm_read_guest(), virt/kvm/kvm_main.c: 0, or EFAULT at the first page that fails.
KvmResult kvm_read_guest(kvm& kvm, Gpa gpa, std::span<std::uint8_t> data);
// models kvm_write_guest(), virt/kvm/kvm_main.c: 0, or EFAULT; earlier pages stay written.
KvmResult kvm_write_guest(kvm& kvm, Gpa gpa, std::span<const std::uint8_t> data);
// models kvm_vcpu_read_guest() / kvm_vcpu_write_guest(): the vCPU's address space and slot cache.
KvmResult kvm_vcpu_read_guest(kvm& kvm, kvm_vcpu& vcpu, Gpa gpa, std::span<std::uint8_t> data);
KvmResult kvm_vcpu_write_guest(kvm& kvm, kvm_vcpu& vcpu, Gpa gpa, std::span<const std::uint8_t> data);

}  // namespace kvmsim
