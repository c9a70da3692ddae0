// The x86 kvm_arch_* hooks (arch/x86/kvm/x86.c, arch/x86/include/asm/kvm_host.h).
#pragma once

#include "../kvm/arch.h"
#include "../host/host_description.h"
#include "platform.h"

namespace kvmsim {

// Whether the model knows how 6.18 x86 answers KVM_CHECK_EXTENSION(cap) (model/x86/check_extension.cpp).
// The rest depend on host hardware or configuration the host description does not carry.
[[nodiscard]] bool x86_cap_modelled(Cap cap);

class X86Arch final : public KvmArch {
public:
    X86Arch(Platform platform, VmType type, HostDescription host = {})
        : platform_(platform), options_(platform_options(platform)), type_(type), host_(host) {
        if (host_.host_maxphyaddr) options_.host_maxphyaddr = *host_.host_maxphyaddr;
        if (host_.kvm_smm) options_.smm_address_space = *host_.kvm_smm;
    }

    [[nodiscard]] unsigned user_mem_slots(const Profile& profile) const override;
    [[nodiscard]] unsigned mem_slots_num(const Profile& profile) const override;
    [[nodiscard]] unsigned nr_memslot_as_ids(const Profile& profile) const override;
    [[nodiscard]] unsigned max_nr_address_spaces(const Profile& profile) const override;
    [[nodiscard]] bool has_readonly_mem(const Profile& profile) const override;
    [[nodiscard]] std::optional<long> check_extension(const Profile& profile, Cap cap, bool vm_fd) const override;
    [[nodiscard]] GenericCapConfig generic_cap_config(bool vm_fd) const override;
    [[nodiscard]] KvmResult prepare_memory_region(const Profile& profile, const kvm_memory_slot* old,
                                                  const kvm_memory_slot& new_slot, kvm_mr_change change) const override;
    [[nodiscard]] unsigned max_vcpus(const Profile& profile) const override;
    [[nodiscard]] unsigned max_vcpu_ids(const Profile& profile) const override;

    [[nodiscard]] Platform platform() const { return platform_; }
    [[nodiscard]] const PlatformOptions& options() const { return options_; }
    [[nodiscard]] const HostDescription& host() const { return host_; }
    // kvm_mmu_max_gfn(), arch/x86/kvm/mmu.h
    [[nodiscard]] std::uint64_t mmu_max_gfn() const;

private:
    [[nodiscard]] std::optional<long> answer_618(const Profile& profile, Cap cap, bool vm_fd) const;
    [[nodiscard]] bool has_protected_state() const { return type_ != VmType::Default; }
    [[nodiscard]] bool has_private_mem() const { return type_ == VmType::Snp || type_ == VmType::Tdx; }
    Platform platform_;
    PlatformOptions options_;
    VmType type_;
    HostDescription host_;
};

}  // namespace kvmsim
