#include "arm64_insn.h"

#include <string>

namespace kvmsim::sim {

DataInsn data_insn(const Step& step, const StepFields& f) {
    if (step.op == "guest_cas") return DataInsn::Cas;
    if (step.op == "guest_at") return DataInsn::AtS1e1r;
    if (step.op != "guest_dc") return DataInsn::LoadStore;
    return f.string("insn") == "DC ZVA" ? DataInsn::DcZva : DataInsn::DcCivac;
}

void check_arm64_insn_step(const Step& step, const StepFields& f) {
    if (step.op == "guest_dc") {
        const std::string insn = f.string("insn");
        if (insn != "DC CIVAC" && insn != "DC ZVA")
            throw ScenarioError(f.path("insn"), "expected \"DC CIVAC\" or \"DC ZVA\" (the DC instructions modelled), got \"" + insn + "\"");
    }
    if (step.op == "guest_at" && f.string("insn") != "AT S1E1R")
        throw ScenarioError(f.path("insn"), "expected \"AT S1E1R\" (the address translation instruction modelled), got \"" + f.string("insn") + "\"");
    if (step.op == "guest_cas") {
        const unsigned size = f.access_size("size");
        if (size != 4 && size != 8) throw ScenarioError(f.path("size"), "a CAS here is of 4 or 8 bytes (CASAL W or X)");
        if (f.u64("gva") % size) throw ScenarioError(f.path("gva"), "a CAS must be naturally aligned (else an alignment fault in the guest)");
    }
    const DataInsn insn = data_insn(step, f);
    if ((insn == DataInsn::Cas || insn == DataInsn::DcZva || insn == DataInsn::AtS1e1r) && !f.has("gva"))
        throw ScenarioError(step.path, "this instruction goes by \"gva\" with the MMU on (set_stage1_regs): with it off every data access is to Device memory");
}

nlohmann::json par_json(bool f, std::uint64_t pa_or_fst) {
    nlohmann::json j;
    j["f"] = f ? 1 : 0;
    if (f) j["fst"] = pa_or_fst;
    else j["pa"] = pa_or_fst;
    return j;
}

nlohmann::json par_json_from_raw(std::uint64_t par) {
    const bool f = par & 1;
    return par_json(f, f ? (par >> 1) & 0x3f : par & 0x0000fffffffff000ull);
}

void check_par_expect(const nlohmann::json& e, const std::string& path) {
    if (!e.is_object()) throw ScenarioError(path, "expected an object {\"f\": 0, \"pa\": ...} or {\"f\": 1, \"fst\": ...}");
    for (const auto& [k, v] : e.items()) {
        if (k != "f" && k != "pa" && k != "fst") throw ScenarioError(path + "/" + k, "unknown key \"" + k + "\" (expected f, pa, fst)");
        (void)parse_number(v, path + "/" + k);
    }
}

}  // namespace kvmsim::sim
