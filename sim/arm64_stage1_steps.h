// Scenario steps for an arm64 guest's own stage 1 (docs/scenarios.md, "arm64 stage 1"):
// build_stage1_tables (the declarative table builder), set_stage1_regs (MAIR/TCR/TTBR0/SCTLR
// through KVM_SET_ONE_REG, the MMU on) and guest accesses by "gva". The parsers are shared
// by the model backend and the kvm backend's arm64 guest, so both read a step the same way.
#pragma once

#include <cstdint>
#include <map>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "model/arm64/stage1_builder.h"
#include "model/kvm/kvm.h"

namespace kvmsim {
class Arm64Arch;
}

namespace kvmsim::sim {

// Load-time checks of an arm64 step's stage-1 parts (the builder's spec, granule, va_bits).
void check_arm64_stage1_step(const Step& step, const StepFields& f);

// build_stage1_tables as a builder spec; throws ScenarioError naming the JSON path.
Arm64S1BuildSpec parse_stage1_spec(const Step& step, const StepFields& f);
// set_stage1_regs as the walk's registers (the MMU on).
Arm64Stage1Regs parse_stage1_regs(const StepFields& f);

// The model backend's side of these steps: the vCPUs' stage-1 registers and the table pools.
class Arm64Stage1Steps {
public:
    // build_stage1_tables: 0; an unbuildable spec is a ScenarioError.
    nlohmann::json build(kvm& k, const Step& step, const StepFields& f);
    // set_stage1_regs: 0, or ENOEXEC before KVM_ARM_VCPU_INIT (kvm_arch_vcpu_ioctl(), arch/arm64/kvm/arm.c).
    nlohmann::json set_regs(kvm& k, Arm64Arch& arch, const Step& step, const StepFields& f);
    // The registers of vCPU `id` (the MMU off until set_stage1_regs).
    [[nodiscard]] Arm64Stage1Regs regs(std::uint32_t id) const;
    // A descriptor as the VMM reads it through its mapping (page_fault_test's check_pte_af
    // reads it after the access); nullopt outside every slot or where the read is refused.
    static std::optional<std::uint64_t> read_desc(kvm& k, Gpa gpa);

private:
    std::map<std::uint32_t, Arm64Stage1Regs> regs_;    // by vCPU id
    std::map<std::uint64_t, std::uint64_t> pool_used_;  // by pool gpa
};

}  // namespace kvmsim::sim
