// Upstream patches the model can toggle. Each is one commit (or one series step) whose change
// sits at a single decision point in the model; a profile is a named set of them.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace kvmsim {

enum class Patch : unsigned {
    FlagsCheck,           // unknown KVM_SET_USER_MEMORY_REGION flags rejected
    HideMemslotInvalid,   // KVM_MEMSLOT_INVALID moved from bit 1 to bit 16
    ReadonlyMemslot,      // KVM_MEM_READONLY, KVM_CAP_READONLY_MEM, RO_BAD / RO_FAULT
    PfnNoslot,            // an error hva gives KVM_PFN_NOSLOT, no longer KVM_PFN_ERR_BAD
    UserMemSlots125,      // x86 user slots 32 -> 125
    MultiAddressSpace,    // as_id in slot bits 16-31, KVM_CAP_MULTI_ADDRESS_SPACE
    UserMemSlots509,      // x86 user slots 125 -> 509
    DeleteNonexistentEinval,  // deleting a slot that does not exist -> EINVAL
    UserMemSlots32764,    // x86 user slots 509 -> 32764
    MaxGfnCheck,          // x86: a slot past kvm_mmu_max_gfn() -> EINVAL
    ReadonlyToggleEinval, // toggling KVM_MEM_READONLY on an existing slot -> EINVAL
    UaddrChangeEinval,    // changing userspace_addr of an existing slot -> EINVAL (was ignored)
    ClearDirtyLog,        // KVM_CLEAR_DIRTY_LOG and manual dirty-log protection
    DirtyRing,            // KVM_CAP_DIRTY_LOG_RING
    UserMemory2,          // KVM_SET_USER_MEMORY_REGION2 and the 6.8 guest_memfd capabilities
    RoPageTables,         // x86 walker: guest page tables may live in read-only slots
    Count
};

struct PatchInfo {
    Patch patch;
    std::string_view name;     // the toggle's name on the command line and in scenarios
    std::string_view subject;  // the upstream subject line
    std::string_view commit;   // upstream commit (short hash), or "" where not pinned down
    std::string_view release;  // first release that has it
    std::string_view what;     // what changes, in a sentence
};

[[nodiscard]] std::span<const PatchInfo> all_patches();
[[nodiscard]] const PatchInfo& patch_info(Patch p);
[[nodiscard]] std::optional<Patch> patch_from_name(std::string_view name);

}  // namespace kvmsim
