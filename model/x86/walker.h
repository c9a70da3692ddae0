// KVM's software walk of the guest's own page tables (arch/x86/kvm/mmu/paging_tmpl.h): one
// loop for every paging mode, one fault exit, and the accessed/dirty update with its read-only
// slot decision in one function. The walk records every level so a learner can follow it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>

#include "../kvm/kvm.h"
#include "paging.h"

namespace kvmsim {

// The access being translated: the PFERR_WRITE / PFERR_USER / PFERR_FETCH bits of `access`.
struct WalkAccess {
    bool write = false;
    bool user = false;   // CPL 3 (explicit user-mode access)
    bool fetch = false;  // instruction fetch
};

// Who sets the accessed and dirty bits, and so what a page table in a read-only slot gets.
// A hardware writer reads every slot's tables, whatever the kernel profile's walker would do.
enum class AdWriter {
    Kvm,          // KVM's software walker: update_accessed_dirty_bits() (shadow paging, the emulator)
    EptHardware,  // the CPU under EPT, which writes them even into read-only slot memory
    NptHardware,  // the CPU under NPT, which faults on them (the caller hands that to the emulator)
};

// Why a level's PTE could not be read.
enum class PteReadError {
    NoSlot,          // the page-table gfn has no usable memslot: KVM_HVA_ERR_BAD
    ReadOnlySlot,    // before "allow page tables to be in read-only slots": gfn_to_hva() is a write translation
    HostCopyFailed,  // the slot's host page is unmapped or unreadable: __copy_from_user() fails
};

// What update_accessed_dirty_bits() did with one level.
enum class AdUpdate {
    NotNeeded,          // A (and D where needed) already set
    Written,            // compare-and-exchange succeeded
    SkippedReadOnly,    // pte_writable is false: the table is in a KVM_MEM_READONLY slot
    OverwrittenByEpt,   // EPT: the CPU wrote the bits into the read-only slot's memory
    Raced,              // the PTE changed since the walk read it: walk again
    WriteFailed,        // the host page refused the write: -EFAULT, a #PF for the guest
};

// One level of the walk (the per-level arrays of struct guest_walker).
struct WalkLevel {
    unsigned level = 0;
    Gfn table_gfn;
    Gpa pte_gpa;
    std::optional<std::uint16_t> slot_id;  // the memslot holding the table
    bool slot_readonly = false;
    bool pte_writable = false;             // walker->pte_writable[level - 1]
    bool from_pdptr = false;               // PAE: the PDPTE register, not a memory read
    Hva ptep_user;
    std::optional<PteReadError> read_error;
    std::uint64_t pte = 0;      // the value read
    std::uint64_t new_pte = 0;  // the value wanted after the A/D update
    AdUpdate ad = AdUpdate::NotNeeded;
};

// struct x86_exception
struct x86_exception {
    std::uint8_t vector = x86::kPfVector;
    std::uint32_t error_code = 0;
    Gva address;  // CR2 for a #PF
};

// Why a walk faulted, for traces and tests (the guest only sees the error code).
enum class WalkFault { None, PteUnreadable, NotPresent, Reserved, Permission, AdWriteFailed };

// struct guest_walker
struct guest_walker {
    PagingMode mode = PagingMode::None;
    unsigned level = 0;      // the level the walk ended at (the leaf, or where it faulted)
    unsigned max_level = 0;  // the first level read from memory
    std::array<WalkLevel, 5> levels{};  // by level - 1
    std::uint64_t pte_access = 0;       // the AND of every level's W/U/!NX bits
    Gfn gfn;
    Gpa gpa;  // the translation, when there is no fault
    WalkFault why = WalkFault::None;
    std::optional<x86_exception> fault;
    unsigned walks = 0;  // 1, or more after compare-and-exchange races
};

struct WalkOptions {
    AdWriter ad_writer = AdWriter::Kvm;
    bool dry_run = false;  // read and check only: no A/D update (to ask what a walk would need)
    // Test hook: called once per compare-and-exchange with the PTE's host address, before it.
    std::function<void(Hva)> before_cmpxchg;
};

// models FNAME(walk_addr_generic)(), arch/x86/kvm/mmu/paging_tmpl.h
guest_walker walk_addr_generic(kvm& kvm, kvm_vcpu& vcpu, const X86PagingState& state, const GuestCpuid& cpuid, Gva addr,
                               WalkAccess access, const WalkOptions& options = {});

[[nodiscard]] std::string_view to_string(AdUpdate a);
[[nodiscard]] std::string_view to_string(PteReadError e);
[[nodiscard]] std::string_view to_string(WalkFault f);

}  // namespace kvmsim
