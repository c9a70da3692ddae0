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
