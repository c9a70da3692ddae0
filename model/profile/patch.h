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
    GuestMemfdAllVms,     // KVM_CAP_GUEST_MEMFD 1 on every VM (was: only VMs with private memory)
    X86OneReg,            // x86 KVM_{G,S}ET_ONE_REG, KVM_CAP_ONE_REG 1
    MadviseHwpoisonActionRequired,  // mm: madvise(MADV_HWPOISON) passes MF_ACTION_REQUIRED (SIGBUS to the caller)
    // arm64, upstream
    Arm64ReadonlyMem,     // arm64: KVM_MEM_READONLY / KVM_CAP_READONLY_MEM, writes to RO slots exit as MMIO
    Arm64NisvToUser,      // arm64: KVM_CAP_ARM_NISV_TO_USER, KVM_EXIT_ARM_NISV
    Arm64S1ptwRoFix,      // arm64: a stage-1 walk is a write only on a permission fault
    Arm64CounterOffset,   // arm64: KVM_CAP_COUNTER_OFFSET (v6.4)
    // Arm CCA series (never merged)
    CcaRealm,             // realm VMs: machine type in KVM_CREATE_VM, REC exits, protected/unprotected IPA
    CcaRuntimeFault,      // realm faults are forced to be write faults
    CcaHideReadonlyMem,   // v7 34/45 (seed 003): READONLY_MEM joins SET_GUEST_DEBUG's !kvm_is_realm case
    CcaHideDebugCaps,     // v8 08/43: SET_GUEST_DEBUG and the HW BP/WP counts hidden for realms
    CcaHideCounterOffset, // v8 33/43: COUNTER_OFFSET joins the hidden case
    CcaExtAllowList,      // v12 08/46: realms answer only the caps on kvm_realm_ext_allowed()
    CcaRealmEinval,       // v12 09/46: a realm without an RMM gives EINVAL (v7: EPERM)
    CcaVmTypeBit30,       // v14: KVM_VM_TYPE_ARM_REALM moves to bit 30, next to pKVM's bit 31
    CcaAllowListNoPmu,    // v14: PMU_V3 leaves the realm allow-list
    CcaEnableCapCheck,    // v14: KVM_ENABLE_CAP refuses caps off the allow-list for realms
    CcaPrivateNeedsGmem,  // v12 24/46: a protected-IPA fault on a non-guest_memfd slot -> EINVAL
    // The memslot lock/unlock RFC (never merged)
    LockApi,              // v4 02/39 (seed 004): the UAPI and its usage checks
    LockImpl,             // v4 03/39 (+04): pin and pre-map at stage 2; unlock
    LockDenyChanges,      // v4 08/39: memslot changes on a locked slot -> EBUSY
    LockWarnFaults,       // v4 10/39: warn on unexpected stage-2 faults on locked slots
    LockAllow,            // v4 11/39: KVM_CHECK_EXTENSION reports 1, the ioctl is reachable
    LockV5Cap207,         // v5: the cap number moves to 207
    LockV5RunAllowed,     // v5: locking after a vCPU has run is allowed
    LockV5UnlockEinval,   // v5: unlocking a slot that is not locked -> EINVAL
    LockV5UnmapOnUnlock,  // v5 07/38: unlock before any vCPU ran unmaps the slot at stage 2
    Count
};

struct PatchInfo {
    Patch patch;
    std::string_view name;     // the toggle's name on the command line and in scenarios
    std::string_view subject;  // the upstream subject line
    std::string_view commit;   // upstream commit (short hash), or "" where not pinned down
    std::string_view release;  // first release that has it
    std::string_view what;     // what changes, in a sentence
    std::string_view series = {};  // "" for upstream; else the posted series it belongs to
    std::string_view arch = "any"; // where its decision points are: "any", "x86_64" or "arm64"
};

[[nodiscard]] std::span<const PatchInfo> all_patches();
[[nodiscard]] const PatchInfo& patch_info(Patch p);
[[nodiscard]] std::optional<Patch> patch_from_name(std::string_view name);

}  // namespace kvmsim
