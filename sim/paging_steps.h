// Scenario steps for x86 guest paging: KVM_SET_SREGS, the declarative page-table builder and
// guest accesses by virtual address (docs/scenarios.md, "Guest paging"). The backend keeps one
// PagingSteps per scenario run; validation uses the same parsers so both report the same error.
#pragma once

#include <cstdint>
#include <map>

#include <nlohmann/json.hpp>

#include "fields.h"
#include "model/kvm/kvm.h"
#include "model/x86/gva_access.h"
#include "model/x86/page_table_builder.h"
#include "model/x86/paging.h"
#include "model/x86/platform.h"

namespace kvmsim::sim {

// Checks the paging parts of a step at load time (cpl values, the builder's mapping list).
void check_paging_step(const Step& step, const StepFields& f);

// Parses a build_page_tables step; throws ScenarioError naming the JSON path.
PtBuildSpec parse_page_table_spec(const Step& step, const StepFields& f);

class PagingSteps {
public:
    // KVM_SET_SREGS: 0 or the errno name.
    nlohmann::json set_sregs(kvm& k, Platform platform, const Step& step, const StepFields& f);
    // build_page_tables: 0; an unbuildable spec is a ScenarioError.
    nlohmann::json build_page_tables(kvm& k, const Step& step, const StepFields& f);
    // guest_read / guest_write / guest_fetch by gva (or by gpa for a fetch).
    GvaAccessResult access(kvm& k, Platform platform, kvm_vcpu& vcpu, const StepFields& f, GvaAccessType type);

private:
    std::map<std::uint32_t, X86PagingState> state_;       // by vCPU id
    std::map<std::uint64_t, std::uint64_t> pool_used_;    // by pool gpa
};

}  // namespace kvmsim::sim
