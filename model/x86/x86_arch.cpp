#include "x86_arch.h"

#include <algorithm>

#include "../profile/profile.h"

namespace kvmsim {

// KVM_USER_MEM_SLOTS (KVM_MEMORY_SLOTS before 3.8), arch/x86/include/asm/kvm_host.h
unsigned X86Arch::user_mem_slots(const Profile& profile) const {
    if (profile.has(Patch::UserMemSlots32764)) return 32764;
    if (profile.has(Patch::UserMemSlots509)) return 509;
    if (profile.has(Patch::UserMemSlots125)) return 125;
    return 32;
}

// KVM_MEM_SLOTS_NUM = user slots + KVM_PRIVATE_MEM_SLOTS (internal: TSS, APIC access, identity map)
unsigned X86Arch::mem_slots_num(const Profile& profile) const {
    return user_mem_slots(profile) + (profile.has(Patch::UserMemSlots125) ? 3 : 4);
}

// kvm_arch_nr_memslot_as_ids(), arch/x86/include/asm/kvm_host.h
unsigned X86Arch::nr_memslot_as_ids(const Profile& profile) const {
    if (!profile.has(Patch::MultiAddressSpace) || !options_.smm_address_space) return 1;
    // VMs with private memory (SNP, TDX: kvm_arch_has_private_mem()) have no SMM address space;
    // SEV-ES has protected state but no private memory, so it keeps two.
    return (type_ == VmType::Snp || type_ == VmType::Tdx) ? 1 : 2;
}

// KVM_MAX_NR_ADDRESS_SPACES: 2 when CONFIG_KVM_SMM gives x86 its SMM address space.
unsigned X86Arch::max_nr_address_spaces(const Profile& profile) const {
    return profile.has(Patch::MultiAddressSpace) && options_.smm_address_space ? 2 : 1;
}

// kvm_arch_has_readonly_mem(), arch/x86/include/asm/kvm_host.h: a VM whose register state is
// protected (SEV-ES, SNP, TDX) cannot have its trapped writes emulated.
bool X86Arch::has_readonly_mem(const Profile&) const { return !has_protected_state(); }


std::uint64_t X86Arch::mmu_max_gfn() const {
    const unsigned bits = options_.tdp ? options_.host_maxphyaddr : 52;
    return (std::uint64_t{1} << (bits - 12)) - 1;
}

// models kvm_arch_prepare_memory_region(), arch/x86/kvm/x86.c
KvmResult X86Arch::prepare_memory_region(const Profile& profile, const kvm_memory_slot*, const kvm_memory_slot& new_slot,
                                         kvm_mr_change change) const {
    if ((change == kvm_mr_change::Create || change == kvm_mr_change::Move) && profile.has(Patch::MaxGfnCheck) &&
        new_slot.base_gfn.value() + new_slot.npages - 1 > mmu_max_gfn())
        return KvmResult::error(Errno::Einval);
    return KvmResult::ok();
}

// KVM_MAX_VCPUS, arch/x86/include/asm/kvm_host.h: CONFIG_KVM_MAX_NR_VCPUS (1024 before 6.8), from the host.
unsigned X86Arch::max_vcpus(const Profile&) const { return host_.max_vcpus; }
// KVM_MAX_VCPU_IDS, arch/x86/include/asm/kvm_host.h: KVM_MAX_VCPUS * KVM_VCPU_ID_RATIO (4), so
// that APIC IDs with holes in their topology still fit (6.18 pvm host: 4096; Debian 6.12: 16384).
unsigned X86Arch::max_vcpu_ids(const Profile&) const { return host_.max_vcpus * 4; }

}  // namespace kvmsim
