#include "patch.h"

#include <array>

namespace kvmsim {
namespace {

// Subjects and releases come from the upstream history (notes in docs/profiles.md); a commit
// left empty was not pinned down to a hash.
constexpr std::array<PatchInfo, static_cast<std::size_t>(Patch::Count)> kPatches = {{
    {Patch::FlagsCheck, "memslot-flags-check", "KVM: fix missing check for memslot flags", "", "v3.7",
     "unknown flags in KVM_SET_USER_MEMORY_REGION give EINVAL; before it they were stored in the slot"},
    {Patch::HideMemslotInvalid, "hide-memslot-invalid", "KVM: hide KVM_MEMSLOT_INVALID from userspace", "67b29204c8c9", "v3.7",
     "the kernel-internal KVM_MEMSLOT_INVALID moves from bit 1 (which userspace could set, making its slot invisible) to bit 16"},
    {Patch::ReadonlyMemslot, "readonly-memslot", "KVM: introduce readonly memslot", "4d8b81abc47b", "v3.7",
     "KVM_MEM_READONLY and KVM_CAP_READONLY_MEM; write translations of a read-only slot give KVM_HVA_ERR_RO_BAD / KVM_PFN_ERR_RO_FAULT and the write is emulated as MMIO"},
    {Patch::PfnNoslot, "pfn-noslot", "KVM_PFN_NOSLOT for error hvas (Xiao Guangrong, 2012; subject not pinned down)", "", "v3.8",
     "a gfn with no usable slot translates to KVM_PFN_NOSLOT instead of KVM_PFN_ERR_BAD; both lead to MMIO emulation"},
    {Patch::UserMemSlots125, "memslots-125", "Alex Williamson's Dec 2012 memslot series: KVM_MEMORY_SLOTS -> KVM_USER_MEM_SLOTS, x86 125 (subject not pinned down)", "", "v3.9",
     "x86 user memslots 32 -> 125, internal slots 4 -> 3"},
    {Patch::MultiAddressSpace, "multi-address-space", "KVM: implement multiple address spaces", "f481b069e674", "v4.2",
     "slot bits 16-31 select the address space; KVM_CAP_MULTI_ADDRESS_SPACE (2 on x86 with SMM)"},
    {Patch::UserMemSlots509, "memslots-509", "kvm: x86: increase user memory slots to 509", "1d4e7e3c0bca", "v3.19",
     "x86 user memslots 125 -> 509"},
    {Patch::DeleteNonexistentEinval, "delete-nonexistent-einval", "KVM: Restrict non-existing slot state transitions", "f0736cf0550b", "v3.9",
     "deleting a slot that does not exist gives EINVAL (was 0), and zero-size requests no longer run the overlap scan"},
    {Patch::UserMemSlots32764, "memslots-32764", "KVM: Raise the maximum number of user memslots", "4fc096a99e01", "v5.12",
     "x86 user memslots 509 -> 32764"},
    {Patch::MaxGfnCheck, "max-gfn-check", "KVM: x86/mmu: Do not create SPTEs for GFNs that exceed host.MAXPHYADDR", "86931ff7207b", "v5.18",
     "a slot whose last gfn is above kvm_mmu_max_gfn() gives EINVAL"},
    {Patch::ReadonlyToggleEinval, "readonly-toggle-einval", "KVM: set_memory_region: Disallow changing read-only attribute later", "75d61fbcf563", "v3.9",
     "setting or clearing KVM_MEM_READONLY on an existing slot gives EINVAL (was a flags-only change)"},
    {Patch::UaddrChangeEinval, "uaddr-change-einval", "KVM: Check userspace_addr when modifying a memory slot", "9c695d42dbd4", "v3.9",
     "a new userspace_addr for an existing slot gives EINVAL (was silently ignored)"},
    {Patch::ClearDirtyLog, "clear-dirty-log", "kvm: introduce manual dirty log reprotect", "2a31b9db1535", "v5.0",
     "KVM_CLEAR_DIRTY_LOG and manual dirty-log protection (KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 from v5.2)"},
    {Patch::DirtyRing, "dirty-ring", "KVM: X86: Implement ring-based dirty memory tracking", "fb04a1eddb1a", "v5.11",
     "KVM_CAP_DIRTY_LOG_RING"},
    {Patch::UserMemory2, "user-memory2", "KVM: Add KVM_SET_USER_MEMORY_REGION2", "bb58b90b1a8f", "v6.8",
     "KVM_CAP_USER_MEMORY2 with the 6.8 guest_memfd capabilities (MEMORY_FAULT_INFO, GUEST_MEMFD, VM_TYPES)"},
    {Patch::RoPageTables, "ro-page-tables", "KVM: mmu: allow page tables to be in read-only slots", "ba6a35415455", "v3.12",
     "the guest page walker reads page tables with gfn_to_hva_prot() and skips the accessed/dirty update of tables in read-only slots; before it, gfn_to_hva() refused them and the walk faulted"},
    {Patch::GuestMemfdAllVms, "guest-memfd-all-vms", "KVM: x86: Enable KVM_GUEST_MEMFD for all 64-bit builds", "d1e54dd08f16", "v6.18",
     "KVM_CAP_GUEST_MEMFD answers 1 on every VM fd; before it a VM fd answered kvm_arch_has_private_mem() (0 for a default x86 VM, 1 on /dev/kvm); seen on Debian's 6.12 under QEMU"},
    {Patch::X86OneReg, "x86-one-reg", "KVM: x86: Introduce KVM_{G,S}ET_ONE_REG uAPIs support", "06f2969c6a12", "v6.18",
     "x86 answers KVM_CAP_ONE_REG 1 (KVM_GET_ONE_REG/KVM_SET_ONE_REG for KVM_X86_REG_MSR and the guest SSP); before it x86 did not know the cap (0); seen on Debian's 6.12 under QEMU", "", "x86_64"},
    {Patch::MadviseHwpoisonActionRequired, "madvise-hwpoison-action-required", "mm/madvise: add MF_ACTION_REQUIRED to madvise(MADV_HWPOISON)", "", "v6.11",
     "memory_failure() is called as for a synchronous error: poisoning a dirty anonymous page sends the caller SIGBUS (BUS_MCEERR_AR), and poisoning a page already poisoned sends it SIGBUS before EHWPOISON (kill_accessing_process()); in Debian's 6.12 source, not in 6.1 (mm/madvise.c)"},
    // arm64 (docs/arm64.md; reference arm64-and-kvmtool.md sections 1-3)
    {Patch::Arm64ReadonlyMem, "arm64-readonly-mem", "arm/arm64: KVM: Support KVM_CAP_READONLY_MEM", "", "v3.19",
     "arm64 accepts KVM_MEM_READONLY and answers KVM_CAP_READONLY_MEM 1; a write to a read-only slot is an MMIO exit", "", "arm64"},
    {Patch::Arm64NisvToUser, "arm64-nisv-to-user", "KVM: arm/arm64: Allow reporting non-ISV data aborts to userspace", "c726200dd106", "v5.5",
     "KVM_CAP_ARM_NISV_TO_USER: an MMIO data abort without a valid syndrome exits as KVM_EXIT_ARM_NISV instead of failing KVM_RUN with ENOSYS", "", "arm64"},
    {Patch::Arm64S1ptwRoFix, "arm64-s1ptw-ro-fix", "KVM: arm64: Fix S1PTW handling on RO memslots", "406504c7b040", "v6.2",
     "a stage-1 page-table walk counts as a write only on a permission fault, so guest page tables in a read-only slot can be read", "", "arm64"},
    {Patch::Arm64CounterOffset, "arm64-counter-offset", "KVM: arm64: timers: Allow userspace to set the global counter offset", "30ec7997d175", "v6.4",
     "KVM_CAP_COUNTER_OFFSET and KVM_ARM_SET_COUNTER_OFFSET; before it the cap is an unknown number (0); seen on Debian's 6.1 under QEMU", "", "arm64"},
    {Patch::CcaRealm, "cca-realm", "[PATCH v7 10/45] arm64: kvm: Allow passing machine type in KVM creation (with the series' realm plumbing)", "", "CCA v7",
     "KVM_CREATE_VM takes a machine type in bits 11:8 (REALM = 1 << 8); realm VMs split the IPA space into protected and unprotected halves and emulate MMIO only in the unprotected half", "Arm CCA", "arm64"},
    {Patch::CcaRuntimeFault, "cca-runtime-fault", "[PATCH v7 21/45] arm64: RME: Runtime faulting of memory", "", "CCA v7",
     "every stage-2 fault of a realm is treated as a write fault (realms cannot map pages read-only)", "Arm CCA", "arm64"},
    {Patch::CcaHideReadonlyMem, "cca-hide-readonly-mem", "[PATCH v7 34/45] kvm: rme: Hide KVM_CAP_READONLY_MEM for realm guests", "", "CCA v7",
     "KVM_CAP_READONLY_MEM joins KVM_CAP_SET_GUEST_DEBUG in the !kvm_is_realm(kvm) case: 0 on a realm VM fd, 1 elsewhere (seed 003)", "Arm CCA", "arm64"},
    {Patch::CcaHideDebugCaps, "cca-hide-debug-caps", "[PATCH v8 08/43] kvm: arm64: Don't expose debug capabilities for realm guests", "", "CCA v8",
     "KVM_CAP_SET_GUEST_DEBUG and the hardware breakpoint/watchpoint counts answer 0 on a realm VM fd", "Arm CCA", "arm64"},
    {Patch::CcaHideCounterOffset, "cca-hide-counter-offset", "[PATCH v8 33/43] arm64: RME: Hide KVM_CAP_READONLY_MEM for realm guests", "", "CCA v8",
     "KVM_CAP_COUNTER_OFFSET joins READONLY_MEM in the !kvm_is_realm case", "Arm CCA", "arm64"},
    {Patch::CcaExtAllowList, "cca-ext-allow-list", "[PATCH v12 08/46] kvm: arm64: Don't expose unsupported capabilities for realm guests", "", "CCA v11",
     "a realm VM fd answers 0 for every cap not on kvm_realm_ext_allowed(), before the normal switch", "Arm CCA", "arm64"},
    {Patch::CcaRealmEinval, "cca-realm-einval", "[PATCH v12 09/46] KVM: arm64: Allow passing machine type in KVM creation", "", "CCA v12",
     "asking for a realm on a host without an RMM gives EINVAL (v7 gave EPERM)", "Arm CCA", "arm64"},
    {Patch::CcaVmTypeBit30, "cca-vm-type-bit30", "[PATCH v14] KVM: arm64: Allow passing machine type in KVM creation (reworked for pKVM's protected type)", "", "CCA v14",
     "KVM_VM_TYPE_ARM_REALM is bit 30 and pKVM's KVM_VM_TYPE_ARM_PROTECTED bit 31; both together give EINVAL", "Arm CCA", "arm64"},
    {Patch::CcaAllowListNoPmu, "cca-allow-list-no-pmu", "[PATCH v14] kvm: arm64: Don't expose unsupported capabilities for realm guests (PMU dropped)", "", "CCA v14",
     "KVM_CAP_ARM_PMU_V3 leaves the realm allow-list", "Arm CCA", "arm64"},
    {Patch::CcaEnableCapCheck, "cca-enable-cap-check", "[PATCH v14] kvm: arm64: Don't expose unsupported capabilities for realm guests (\"Add missing check\")", "", "CCA v14",
     "KVM_ENABLE_CAP on a realm gives EINVAL for every cap not on the allow-list", "Arm CCA", "arm64"},
    {Patch::CcaPrivateNeedsGmem, "cca-private-needs-gmem", "[PATCH v12 24/46] arm64: RMI: Runtime faulting of memory", "", "CCA v12",
     "a realm fault in the protected half on a memslot without guest_memfd fails KVM_RUN with EINVAL (v7 maps a fresh granule the RMM zeroes)", "Arm CCA", "arm64"},
    {Patch::LockApi, "lock-api", "[RFC PATCH v4 02/39] KVM: arm64: Add lock/unlock memslot user API", "", "LOCK v4",
     "KVM_CAP_ARM_LOCK_USER_MEMORY_REGION (206) and its usage checks; alone, lock support reads 0 so every call is EINVAL (seed 004)", "memslot lock RFC", "arm64"},
    {Patch::LockImpl, "lock-impl", "[RFC PATCH v4 03/39] KVM: arm64: Implement the memslot lock/unlock functionality", "", "LOCK v4",
     "LOCK pins the slot's pages, maps them at stage 2 and charges RLIMIT_MEMLOCK; UNLOCK unpins and leaves stage 2 mapped (with 04/39's deferred cache maintenance)", "memslot lock RFC", "arm64"},
    {Patch::LockDenyChanges, "lock-deny-changes", "[RFC PATCH v4 08/39] KVM: arm64: Deny changes to locked memslots", "", "LOCK v4",
     "KVM_SET_USER_MEMORY_REGION on a locked slot gives EBUSY, except turning dirty logging on for a slot not locked for write", "memslot lock RFC", "arm64"},
    {Patch::LockWarnFaults, "lock-warn-faults", "[RFC PATCH v4 10/39] KVM: arm64: Print a warning for unexpected faults on locked memslots", "", "LOCK v4",
     "a stage-2 fault on a locked slot that pre-mapping should have prevented prints a rate-limited warning (trace only)", "memslot lock RFC", "arm64"},
    {Patch::LockAllow, "lock-allow", "[RFC PATCH v4 11/39] KVM: arm64: Allow userspace to lock and unlock memslots", "", "LOCK v4",
     "lock support reads 1: KVM_CHECK_EXTENSION answers 1 and KVM_ENABLE_CAP reaches the checks", "memslot lock RFC", "arm64"},
    {Patch::LockV5Cap207, "lock-v5-cap-207", "[RFC PATCH v5 02/38] KVM: arm64: Add lock/unlock memslot user API", "", "LOCK v5",
     "the cap number moves to 207 (upstream took 206); args[1] is read as action flags", "memslot lock RFC", "arm64"},
    {Patch::LockV5RunAllowed, "lock-v5-run-allowed", "[RFC PATCH v5 03/38] KVM: arm64: Implement the memslot lock/unlock functionality (no has-run check)", "", "LOCK v5",
     "LOCK no longer refuses with EBUSY after a vCPU has run", "memslot lock RFC", "arm64"},
    {Patch::LockV5UnlockEinval, "lock-v5-unlock-einval", "[RFC PATCH v5 03/38] KVM: arm64: Implement the memslot lock/unlock functionality (unlock of an unlocked slot)", "", "LOCK v5",
     "UNLOCK of a slot that is not locked gives EINVAL (v4 had no check)", "memslot lock RFC", "arm64"},
    {Patch::LockV5UnmapOnUnlock, "lock-v5-unmap-on-unlock", "[RFC PATCH v5 07/38] KVM: arm64: Unmap unlocked memslot from stage 2 if kvm_mmu_has_pending_ops()", "", "LOCK v5",
     "UNLOCK before any vCPU ran after the lock also unmaps the slot at stage 2", "memslot lock RFC", "arm64"},
}};

constexpr bool table_in_enum_order() {
    for (std::size_t i = 0; i < kPatches.size(); ++i)
        if (static_cast<std::size_t>(kPatches[i].patch) != i) return false;
    return true;
}
static_assert(table_in_enum_order(), "kPatches lists every Patch once, in enum order");

}  // namespace

std::span<const PatchInfo> all_patches() { return kPatches; }

const PatchInfo& patch_info(Patch p) { return kPatches[static_cast<std::size_t>(p)]; }

std::optional<Patch> patch_from_name(std::string_view name) {
    for (const PatchInfo& p : kPatches)
        if (p.name == name) return p.patch;
    return std::nullopt;
}

}  // namespace kvmsim
