#include "scenario.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <string_view>
#include <unordered_map>
#include <sstream>

#include "arm64_device_step.h"
#include "fields.h"
#include "suggest.h"
#include "limits.h"
#include "vmm_steps.h"
#include "paging_steps.h"
#include "host_steps.h"
#include "model/errno.h"
#include "model/kvm/run.h"
#include "model/profile/profile.h"
#include "model/x86/platform.h"
#include "model/x86/x86_arch.h"
#include "model/arm64/arm64_arch.h"
#include "arm64_insn.h"
#include "arm64_stage1_steps.h"

namespace kvmsim::sim {
namespace {

enum class Kind { U32, U64, Hva, Bool, String, Size, Data, Flags, Cap, Args, Prot, StrList, NumList, Json, CapFlags };

struct FieldSpec {
    const char* key;
    Kind kind;
    bool required;
};

struct OpSpec {
    const char* op;
    std::vector<FieldSpec> fields;
};

const std::vector<OpSpec>& op_specs() {
    static const std::vector<OpSpec> specs = {
        {"KVM_CHECK_EXTENSION", {{"cap", Kind::Cap, true}, {"fd", Kind::String, false}}},
        {"KVM_SET_USER_MEMORY_REGION", {{"slot", Kind::U32, true}, {"flags", Kind::Flags, false}, {"guest_phys_addr", Kind::U64, true},
                                        {"memory_size", Kind::U64, true}, {"userspace_addr", Kind::Hva, true}}},
        {"KVM_GET_DIRTY_LOG", {{"slot", Kind::U32, true}}},
        {"KVM_CLEAR_DIRTY_LOG", {{"slot", Kind::U32, true}, {"first_page", Kind::U64, true}, {"num_pages", Kind::U32, true}, {"pages", Kind::NumList, false}}},
        {"KVM_CREATE_VCPU", {{"id", Kind::U32, true}}},
        {"KVM_ENABLE_CAP", {{"cap", Kind::Cap, true}, {"flags", Kind::CapFlags, false}, {"args", Kind::Args, false}}},
        {"guest_read", {{"vcpu", Kind::U32, true}, {"gpa", Kind::U64, false}, {"size", Kind::Size, true}, {"mmio_reply", Kind::Data, false},
                        {"gva", Kind::U64, false}, {"cpl", Kind::U32, false}}},
        {"guest_write", {{"vcpu", Kind::U32, true}, {"gpa", Kind::U64, false}, {"size", Kind::Size, true}, {"data", Kind::Data, true},
                         {"gva", Kind::U64, false}, {"cpl", Kind::U32, false}}},
        {"host_read", {{"hva", Kind::Hva, true}, {"size", Kind::Size, true}}},
        {"host_write", {{"hva", Kind::Hva, true}, {"size", Kind::Size, true}, {"data", Kind::Data, true}}},
        {"host_mmap", {{"name", Kind::String, true}, {"hva", Kind::U64, true}, {"size", Kind::U64, true}, {"prot", Kind::Prot, true}, {"flags", Kind::StrList, false}}},
        {"host_munmap", {{"hva", Kind::Hva, true}, {"size", Kind::U64, true}}},
        {"host_mprotect", {{"hva", Kind::Hva, true}, {"size", Kind::U64, true}, {"prot", Kind::Prot, true}}},
        {"host_poison", {{"hva", Kind::Hva, true}}},
        // Holes and userfaultfd (sim/host_steps.cpp)
        {"host_madvise", {{"hva", Kind::Hva, true}, {"size", Kind::U64, true}, {"advice", Kind::String, true}}},
        {"host_fallocate", {{"mapping", Kind::String, true}, {"mode", Kind::StrList, true}, {"offset", Kind::U64, true}, {"len", Kind::U64, true}}},
        {"host_uffd_register", {{"hva", Kind::Hva, true}, {"size", Kind::U64, true}, {"serve", Kind::String, true}, {"pattern", Kind::U64, false},
                                {"content", Kind::String, false}, {"unit", Kind::String, false}}},
        {"host_uffd_faults", {{"hva", Kind::Hva, true}}},
        {"kvm_call", {{"fn", Kind::String, true}, {"gfn", Kind::U64, false}, {"as_id", Kind::U32, false}, {"write", Kind::Bool, false},
                      {"gpa", Kind::U64, false}, {"size", Kind::Size, false}, {"data", Kind::Data, false}}},
        // VMM steps (sim/vmm_steps.cpp)
        {"vmm_register_mem", {{"gpa", Kind::U64, true}, {"size", Kind::U64, true}, {"hva", Kind::Hva, true}, {"type", Kind::String, true}}},
        {"vmm_destroy_mem", {{"gpa", Kind::U64, true}, {"size", Kind::U64, true}, {"hva", Kind::Hva, true}}},
        {"vmm_mem_banks", {{"type", Kind::String, false}}},
        {"vmm_mem_type_to_string", {{"type", Kind::String, true}}},
        {"vmm_options", {{"debug_mmio", Kind::Bool, false}, {"debug_ioport", Kind::Bool, false}}},
        {"vmm_memory_map", {{"arch", Kind::String, false}}},
        {"vmm_scratch_device", {{"gpa", Kind::U64, true}, {"size", Kind::U64, true}}},
        {"vmm_cfi_flash", {{"hva", Kind::Hva, true}, {"file_size", Kind::U64, true}, {"base", Kind::U64, false}, {"mapping", Kind::String, false}}},
        {"vmm_guest_read", {{"vcpu", Kind::U32, true}, {"gpa", Kind::U64, true}, {"size", Kind::Size, true}}},
        {"vmm_guest_write", {{"vcpu", Kind::U32, true}, {"gpa", Kind::U64, true}, {"size", Kind::Size, true}, {"data", Kind::Data, true}}},
        // Guest paging (sim/paging_steps.cpp; docs/scenarios.md "Guest paging").
        {"KVM_SET_SREGS", {{"vcpu", Kind::U32, true}, {"cr0", Kind::U64, false}, {"cr3", Kind::U64, false}, {"cr4", Kind::U64, false},
                           {"efer", Kind::U64, false}, {"idt_base", Kind::U64, false}}},
        {"build_page_tables", {{"mode", Kind::String, true}, {"root", Kind::U64, true}, {"pool", Kind::U64, true}, {"pool_size", Kind::U64, true},
                               {"table_flags", Kind::Json, false}, {"map", Kind::Json, true}}},
        {"guest_fetch", {{"vcpu", Kind::U32, true}, {"gva", Kind::U64, false}, {"gpa", Kind::U64, false}, {"size", Kind::Size, false}, {"cpl", Kind::U32, false}}},
        // arm64 (docs/scenarios.md, "arm64"); guest_fetch above serves both arches
        {"KVM_CREATE_VM", {{"type", Kind::U64, true}}},
        {"KVM_ARM_VCPU_INIT", {{"vcpu", Kind::U32, true}, {"target", Kind::U32, false}, {"features", Kind::StrList, false}}},
        {"vcpu_busy", {{"vcpu", Kind::U32, true}, {"busy", Kind::Bool, true}}},
        {"setrlimit", {{"resource", Kind::String, true}, {"rlim_cur", Kind::U64, true}}},
        // arm64 guest stage 1 (sim/arm64_stage1_steps.cpp; docs/scenarios.md "arm64 stage 1")
        {"build_stage1_tables", {{"granule", Kind::String, false}, {"va_bits", Kind::U32, false}, {"root", Kind::U64, true}, {"pool", Kind::U64, true},
                                 {"pool_size", Kind::U64, true}, {"table_flags", Kind::Json, false}, {"map", Kind::Json, true}}},
        {"set_stage1_regs", {{"vcpu", Kind::U32, true}, {"ttbr0", Kind::U64, true}, {"granule", Kind::String, false}, {"va_bits", Kind::U32, false}, {"ha", Kind::Bool, false}}},
        {"guest_dc", {{"vcpu", Kind::U32, true}, {"gva", Kind::U64, false}, {"gpa", Kind::U64, false}, {"insn", Kind::String, true}}},
        // arm64 in-kernel GIC devices (sim/arm64_device_step.cpp)
        {"KVM_CREATE_DEVICE", {{"type", Kind::String, true}, {"flags", Kind::StrList, false}}},
        // arm64 instructions beyond plain loads and stores (sim/arm64_insn.h)
        {"guest_cas", {{"vcpu", Kind::U32, true}, {"gva", Kind::U64, true}, {"size", Kind::Size, true}, {"compare", Kind::Data, true}, {"data", Kind::Data, true}}},
        {"guest_at", {{"vcpu", Kind::U32, true}, {"gva", Kind::U64, true}, {"insn", Kind::String, true}}},
    };
    return specs;
}

// Fields an architecture adds to a contract op, and the ops only one architecture has.
const std::vector<FieldSpec>& arch_extra_fields(const std::string& arch, const std::string& op) {
    static const std::vector<FieldSpec> none;
    static const std::vector<FieldSpec> arm64_access = {{"isv", Kind::Bool, false}, {"s1ptw", Kind::Bool, false}};
    static const std::vector<FieldSpec> arm64_vmm_access = {{"isv", Kind::Bool, false}};
    if (arch == "arm64" && (op == "guest_read" || op == "guest_write" || op == "guest_fetch")) return arm64_access;
    if (arch == "arm64" && (op == "vmm_guest_read" || op == "vmm_guest_write")) return arm64_vmm_access;
    return none;
}

// The op's entry in op_specs(), found by hash (a step's op used to be compared with every name).
const OpSpec* find_op_spec(const std::string& op) {
    static const std::unordered_map<std::string_view, const OpSpec*> by_name = [] {
        std::unordered_map<std::string_view, const OpSpec*> m;
        for (const OpSpec& o : op_specs()) m.emplace(o.op, &o);
        return m;
    }();
    auto it = by_name.find(op);
    return it == by_name.end() ? nullptr : it->second;
}

bool step_key_allowed(const std::string& key, const OpSpec& spec, const std::vector<FieldSpec>& extra) {
    if (key == "op" || key == "expect" || key == "expect_on" || key == "comment") return true;
    for (const FieldSpec& f : spec.fields)
        if (key == f.key) return true;
    for (const FieldSpec& f : extra)
        if (key == f.key) return true;
    return false;
}

const std::set<std::string> kArm64OnlyOps = {"KVM_CREATE_VM", "KVM_ARM_VCPU_INIT", "vcpu_busy", "setrlimit", "build_stage1_tables", "set_stage1_regs", "guest_dc", "KVM_CREATE_DEVICE", "guest_cas", "guest_at"};
const std::set<std::string> kX86OnlyOps = {"KVM_SET_SREGS", "build_page_tables"};

constexpr std::size_t kMaxErrors = 100;

// Hands back the scenario, or throws its one error, or all of them.
Scenario finish(Scenario s, std::vector<ScenarioError>& errors) {
    if (errors.size() == 1) throw errors.front();
    if (!errors.empty()) throw ScenarioErrors(std::move(errors));
    return s;
}

const std::set<std::string> kCallFns = {"gfn_to_hva", "gfn_to_hva_many", "gfn_to_hva_prot", "gfn_to_pfn_memslot", "kvm_read_guest", "kvm_write_guest"};

std::string str_field(const nlohmann::json& obj, const char* key, const std::string& path, bool required, const std::string& def = "") {
    if (!obj.contains(key)) {
        if (required) throw ScenarioError(path, std::string("missing required key \"") + key + "\"");
        return def;
    }
    if (!obj.at(key).is_string()) throw ScenarioError(path + "/" + key, "expected a string, got " + obj.at(key).dump());
    return obj.at(key).get<std::string>();
}

// The first bytes of a value for a message, never cutting a UTF-8 character in two.
std::string excerpt(const nlohmann::json& v, std::size_t max) {
    std::string s = v.dump();
    if (s.size() <= max) return s;
    while (max > 0 && (static_cast<unsigned char>(s[max]) & 0xc0) == 0x80) --max;
    return s.substr(0, max) + "...";
}

void check_keys(const nlohmann::json& obj, const std::string& path, const std::set<std::string>& allowed) {
    if (!obj.is_object()) throw ScenarioError(path, "expected an object, got " + excerpt(obj, 60));
    for (const auto& [key, value] : obj.items())
        if (!allowed.contains(key)) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            throw ScenarioError(path + "/" + key, "unknown key \"" + key + "\"" + did_you_mean(key, {allowed.begin(), allowed.end()}) +
                                                      " (expected one of: " + list + ")");
        }
}

void check_field(const StepFields& f, const FieldSpec& spec, const nlohmann::json& fields) {
    switch (spec.kind) {
    case Kind::U32: (void)f.u32(spec.key); break;
    case Kind::U64: (void)f.u64(spec.key); break;
    case Kind::Hva: (void)f.hva(spec.key); break;
    case Kind::Bool: (void)f.boolean_or(spec.key, false); break;
    case Kind::String: (void)f.string(spec.key); break;
    case Kind::Size: (void)f.access_size(spec.key); break;
    case Kind::Data: {
        const unsigned size = fields.contains("size") ? f.access_size("size") : 8;
        (void)f.data(spec.key, size);
        break;
    }
    case Kind::Flags: (void)f.memslot_flags(spec.key); break;
    case Kind::Cap: (void)f.cap(spec.key); break;
    case Kind::Args: (void)f.args(spec.key); break;
    case Kind::Prot: (void)f.prot(spec.key); break;
    case Kind::StrList: (void)f.string_list(spec.key); break;
    case Kind::NumList: (void)f.number_list(spec.key); break;
    case Kind::Json: break;  // checked by the op's own parser
    case Kind::CapFlags: (void)f.enable_cap_flags(spec.key); break;
    }
}

// A capability of 6.18 whose answer the model does not know is bad input, not a silent 0.
void check_cap_modelled(const std::string& arch, const StepFields& f, const std::string& path) {
    if (f.is_string("cap") && f.string("cap") == "KVM_CAP_ARM_LOCK_USER_MEMORY_REGION") return;  // resolved per profile
    const Cap cap = static_cast<Cap>(f.cap("cap"));
    const bool modelled = arch == "arm64" ? arm64_cap_modelled(cap) : x86_cap_modelled(cap);
    if (!modelled)
        throw ScenarioError(path, to_string(cap) + " is not modelled on " + arch +
                                      ": Linux 6.18 answers it from host hardware or configuration the model does not describe "
                                      "(docs/scenarios.md, \"Capabilities\", lists them)");
}

// Checks an expectation's shape: numbers parse, names are known, keys are the contract's.
void check_expect(const nlohmann::json& e, const std::string& op, const std::string& path) {
    if (is_vmm_op(op)) return check_vmm_expect(e, path);
    auto check_errno = [&](const nlohmann::json& v, const std::string& p) {
        if (!v.is_string() || !errno_from_string(v.get<std::string>()))
            throw ScenarioError(p, "expected an errno name such as \"EINVAL\", got " + v.dump());
    };
    const bool ioctl = op.rfind("KVM_", 0) == 0 || op == "host_mmap" || op == "host_munmap" || op == "host_mprotect" || op == "host_poison" ||
                       is_hole_op(op) || op == "build_page_tables" || op == "vcpu_busy" || op == "setrlimit" || op == "build_stage1_tables" || op == "set_stage1_regs";
    if (ioctl && op != "KVM_GET_DIRTY_LOG") {
        if (e.is_string()) return check_errno(e, path);
        // madvise(MADV_HWPOISON) may signal its caller (memory_failure() with MF_ACTION_REQUIRED).
        if (op == "host_poison" && e.is_object()) {
            check_keys(e, path, {"signal", "hva"});
            if (e.contains("hva")) (void)parse_number(e.at("hva"), path + "/hva");
            if (!e.contains("signal") || e.at("signal") != "SIGBUS") throw ScenarioError(path + "/signal", "expected \"SIGBUS\" (the only signal madvise(MADV_HWPOISON) sends)");
            return;
        }
        (void)parse_number(e, path);
        return;
    }
    if (op == "host_write" && e.is_number()) return (void)parse_number(e, path);
    if (op == "guest_read" || op == "guest_write" || op == "guest_fetch" || op == "guest_dc" || op == "guest_cas" || op == "guest_at") {
        if (!e.is_object()) throw ScenarioError(path, "a guest access expects an object such as {\"data\": ...} or {\"errno\": \"EFAULT\"}, got " + e.dump());
    }
    if (e.is_string()) return check_errno(e, path);
    check_keys(e, path, {"data", "exit", "mmio", "errno", "memory_fault", "signal", "exception", "dirty_pages", "hva", "nr_pages",
                         "writable", "pfn", "error", "ret", "stage2_fault", "arm_nisv", "pte_af", "par"});
    if (e.contains("par")) check_par_expect(e.at("par"), path + "/par");
    if (e.contains("stage2_fault") && !e.at("stage2_fault").is_boolean()) throw ScenarioError(path + "/stage2_fault", "expected true or false");
    if (e.contains("pte_af") && !e.at("pte_af").is_boolean()) throw ScenarioError(path + "/pte_af", "expected true or false (the leaf descriptor's AF after the access)");
    if (e.contains("arm_nisv")) {
        check_keys(e.at("arm_nisv"), path + "/arm_nisv", {"esr_iss", "fault_ipa"});
        for (const auto& [k, v] : e.at("arm_nisv").items()) (void)parse_number(v, path + "/arm_nisv/" + k);
    }
    for (const char* k : {"data", "hva", "nr_pages", "pfn"})
        if (e.contains(k)) (void)parse_number(e.at(k), path + "/" + k);
    if (e.contains("errno")) check_errno(e.at("errno"), path + "/errno");
    if (e.contains("ret") && !e.at("ret").is_string()) (void)parse_number(e.at("ret"), path + "/ret");
    if (e.contains("ret") && e.at("ret").is_string()) check_errno(e.at("ret"), path + "/ret");
    if (e.contains("exit") && (!e.at("exit").is_string() || !exit_from_string(e.at("exit").get<std::string>())))
        throw ScenarioError(path + "/exit", "expected an exit name such as \"KVM_EXIT_MMIO\", got " + e.at("exit").dump());
    if (e.contains("writable") && !e.at("writable").is_boolean()) throw ScenarioError(path + "/writable", "expected true or false");
    if (e.contains("mmio")) {
        const auto& m = e.at("mmio");
        check_keys(m, path + "/mmio", {"phys_addr", "len", "is_write", "data"});
        for (const char* k : {"phys_addr", "len", "data"})
            if (m.contains(k)) (void)parse_number(m.at(k), path + "/mmio/" + k);
        if (m.contains("is_write") && !m.at("is_write").is_boolean()) throw ScenarioError(path + "/mmio/is_write", "expected true or false");
    }
    if (e.contains("memory_fault")) {
        check_keys(e.at("memory_fault"), path + "/memory_fault", {"gpa", "size", "flags"});
        for (const auto& [k, v] : e.at("memory_fault").items()) (void)parse_number(v, path + "/memory_fault/" + k);
    }
    if (e.contains("exception")) {
        check_keys(e.at("exception"), path + "/exception", {"vector", "error_code", "cr2", "far", "fsc"});
        for (const auto& [k, v] : e.at("exception").items())
            if (!(k == "vector" && v.is_string())) (void)parse_number(v, path + "/exception/" + k);
    }
    if (e.contains("dirty_pages")) {
        const auto& d = e.at("dirty_pages");
        if (!d.is_array()) throw ScenarioError(path + "/dirty_pages", "expected a list of page indexes");
        for (std::size_t i = 0; i < d.size(); ++i) (void)parse_number(d[i], path + "/dirty_pages/" + std::to_string(i));
    }
}

}  // namespace

const nlohmann::json* Step::expectation(const std::string& profile) const {
    if (auto it = expect_on.find(profile); it != expect_on.end()) return &it->second;
    return expect ? &*expect : nullptr;
}

Scenario parse_scenario(nlohmann::json doc_in, const std::string& file) {
    Scenario s;
    s.file = file;
    if (!doc_in.is_object()) throw ScenarioError("", "expected a scenario object, got " + doc_in.dump().substr(0, 60));
    // The qemu backends forward the scenario to the guest as written. Taken by value and moved,
    // so a document parsed from text is held once, not copied (a copy per file costs as much as
    // the parse of a large one).
    s.doc = std::move(doc_in);
    const nlohmann::json& doc = s.doc;
    // Every problem in the file is collected (one per section or step), so validate lists them all.
    std::vector<ScenarioError> errors;
    auto collect = [&errors](auto&& part) {
        if (errors.size() >= kMaxErrors) return;
        try {
            part();
        } catch (const ScenarioError& e) {
            errors.push_back(e);
        }
    };
    // "$schema" lets an editor find docs/scenario.schema.json; kvmsim only checks it is a string.
    collect([&] { check_keys(doc, "", {"$schema", "name", "description", "arch", "kernel", "kernels", "patches", "requires", "vm", "host", "steps"}); });
    collect([&] {
        if (doc.contains("$schema") && !doc.at("$schema").is_string()) throw ScenarioError("/$schema", "expected the schema's path or URL as a string");
    });
    collect([&] { s.name = str_field(doc, "name", "", true); });
    collect([&] { s.description = str_field(doc, "description", "", true); });
    collect([&] {
        s.arch = str_field(doc, "arch", "", false, "x86_64");
        if (s.arch != "x86_64" && s.arch != "arm64") {
            const std::string bad = s.arch;
            s.arch = "x86_64";
            throw ScenarioError("/arch", "expected \"x86_64\" or \"arm64\", got \"" + bad + "\"");
        }
    });

    auto check_profile = [&s](const std::string& name, const std::string& path) {
        if (!find_profile(name)) {
            std::string list;
            std::vector<std::string> names;
            for (const auto& p : all_profiles()) list += (list.empty() ? "" : ", ") + std::string(p.name), names.emplace_back(p.name);
            throw ScenarioError(path, "unknown kernel profile \"" + name + "\"" + did_you_mean(name, names) + " (known: " + list + ")");
        }
        if (!profile_supports_arch(name, s.arch)) throw ScenarioError(path, "profile \"" + name + "\" is not an " + s.arch + " profile (kvmsim profiles shows each profile's arch)");
    };
    collect([&] {
    if (doc.contains("kernels")) {
        const auto& ks = doc.at("kernels");
        if (!ks.is_array() || ks.empty()) throw ScenarioError("/kernels", "expected a non-empty list of profile names");
        for (std::size_t i = 0; i < ks.size(); ++i) {
            const std::string p = "/kernels/" + std::to_string(i);
            if (!ks[i].is_string()) throw ScenarioError(p, "expected a profile name");
            check_profile(ks[i].get<std::string>(), p);
            // Each profile runs every step again: a repeat would only multiply the run's cost.
            if (std::find(s.kernels.begin(), s.kernels.end(), ks[i].get<std::string>()) != s.kernels.end())
                throw ScenarioError(p, "profile \"" + ks[i].get<std::string>() + "\" is listed twice (each profile runs once)");
            s.kernels.push_back(ks[i].get<std::string>());
        }
    } else {
        s.kernels.push_back(str_field(doc, "kernel", "", false, "mainline"));
        check_profile(s.kernels.back(), "/kernel");
    }
    });
    collect([&] {
    if (doc.contains("patches")) {
        const auto& p = doc.at("patches");
        check_keys(p, "/patches", {"apply", "revert"});
        for (const char* which : {"apply", "revert"}) {
            if (!p.contains(which)) continue;
            if (!p.at(which).is_array()) throw ScenarioError(std::string("/patches/") + which, "expected a list of patch names");
            for (std::size_t i = 0; i < p.at(which).size(); ++i) {
                const std::string path = std::string("/patches/") + which + "/" + std::to_string(i);
                const auto& v = p.at(which)[i];
                if (!v.is_string() || !patch_from_name(v.get<std::string>()))
                    throw ScenarioError(path, "unknown patch " + v.dump() + " (kvmsim profiles lists them)");
                (std::string(which) == "apply" ? s.apply : s.revert).push_back(v.get<std::string>());
            }
        }
    }
    });
    collect([&] {
        if (doc.contains("requires")) s.required_features = parse_requires(doc.at("requires"), "/requires", s.arch);
    });
    if (s.arch == "arm64") s.platform = "rme";
    collect([&] {
    if (doc.contains("vm") && s.arch == "arm64") {
        const auto& vm = doc.at("vm");
        check_keys(vm, "/vm", {"type", "platform", "realm", "ipa_bits", "host"});
        s.vm_type = str_field(vm, "type", "/vm", false, "default");
        if (s.vm_type != "default" && s.vm_type != "realm")
            throw ScenarioError("/vm/type", "arm64 VM types are \"default\" and \"realm\" (or \"realm\": true), got \"" + s.vm_type + "\"");
        s.realm = s.vm_type == "realm";
        s.platform = str_field(vm, "platform", "/vm", false, "rme");
        if (s.platform != "rme" && s.platform != "no-rme") throw ScenarioError("/vm/platform", "unknown arm64 platform \"" + s.platform + "\" (rme, no-rme)");
        if (vm.contains("realm")) {
            if (!vm.at("realm").is_boolean()) throw ScenarioError("/vm/realm", "expected true or false");
            if (s.realm && !vm.at("realm").get<bool>()) throw ScenarioError("/vm/realm", "false contradicts \"type\": \"realm\"");
            s.realm = vm.at("realm").get<bool>();
        }
        if (vm.contains("ipa_bits")) s.ipa_bits = static_cast<std::uint32_t>(parse_number(vm.at("ipa_bits"), "/vm/ipa_bits", 0xff));
    } else if (doc.contains("vm")) {
        const auto& vm = doc.at("vm");
        check_keys(vm, "/vm", {"type", "platform", "host"});
        s.vm_type = str_field(vm, "type", "/vm", false, "default");
        s.platform = str_field(vm, "platform", "/vm", false, "vmx");
        if (!vm_type_from_string(s.vm_type)) throw ScenarioError("/vm/type", "unknown VM type \"" + s.vm_type + "\" (default, sev-es, snp, tdx)");
        if (!platform_from_string(s.platform)) throw ScenarioError("/vm/platform", "unknown platform \"" + s.platform + "\" (vmx, svm, vmx-shadow, pvm)");
    }
    if (doc.contains("vm") && doc.at("vm").contains("host")) s.host_pins = parse_host_pins(doc.at("vm").at("host"), "/vm/host");
    });
    collect([&] {
    if (doc.contains("host")) {
        const auto& host = doc.at("host");
        check_keys(host, "/host", {"mmap"});
        if (host.contains("mmap")) {
            const auto& maps = host.at("mmap");
            if (!maps.is_array()) throw ScenarioError("/host/mmap", "expected a list of mappings");
            for (std::size_t i = 0; i < maps.size(); ++i) {
                const std::string path = "/host/mmap/" + std::to_string(i);
                check_keys(maps[i], path, {"name", "hva", "size", "prot", "flags"});
                HostMapping m;
                m.name = str_field(maps[i], "name", path, true);
                if (!maps[i].contains("hva")) throw ScenarioError(path, "missing required key \"hva\"");
                if (!maps[i].contains("size")) throw ScenarioError(path, "missing required key \"size\"");
                m.hva = parse_number(maps[i].at("hva"), path + "/hva");
                m.size = parse_number(maps[i].at("size"), path + "/size");
                m.prot = str_field(maps[i], "prot", path, false, "rw");
                (void)parse_prot(m.prot, path + "/prot");
                if (maps[i].contains("flags")) {
                    const auto& fl = maps[i].at("flags");
                    if (!fl.is_array()) throw ScenarioError(path + "/flags", "expected a list: \"shared\", \"pfnmap\", \"memfd\", \"hugetlb\"");
                    for (std::size_t j = 0; j < fl.size(); ++j) {
                        if (!fl[j].is_string()) throw ScenarioError(path + "/flags/" + std::to_string(j), "expected \"shared\", \"pfnmap\", \"memfd\" or \"hugetlb\", got " + fl[j].dump());
                        m.flags.push_back(fl[j].get<std::string>());
                    }
                    check_mapping_flags(m.flags, path + "/flags");
                    check_hugetlb_mapping(s.arch, m.flags, m.hva, m.size, path);
                }
                if (!s.names.emplace(m.name, m.hva).second) throw ScenarioError(path + "/name", "mapping name \"" + m.name + "\" used twice");
                s.mmaps.push_back(std::move(m));
            }
        }
    }

    });
    if (!doc.contains("steps")) errors.emplace_back("", "missing required key \"steps\"");
    else if (!doc.at("steps").is_array()) errors.emplace_back("/steps", "expected a list of steps");
    else if (doc.at("steps").size() > kMaxSteps)
        errors.emplace_back("/steps", "at most " + std::to_string(kMaxSteps) + " steps, got " + std::to_string(doc.at("steps").size()));
    if (!doc.contains("steps") || !doc.at("steps").is_array() || doc.at("steps").size() > kMaxSteps) return finish(std::move(s), errors);
    const auto& steps = doc.at("steps");
    // host_mmap steps name mappings too; collect their names before checking any address (a bad
    // hva here is reported by that step's own check below).
    for (std::size_t i = 0; i < steps.size(); ++i) {
        if (steps[i].is_object() && steps[i].contains("op") && steps[i].at("op") == "host_mmap" && steps[i].contains("name") && steps[i].at("name").is_string() &&
            steps[i].contains("hva")) {
            try {
                s.names.emplace(steps[i].at("name").get<std::string>(), parse_number(steps[i].at("hva"), "/steps/" + std::to_string(i) + "/hva"));
            } catch (const ScenarioError&) {
            }
        }
    }
    std::set<std::uint32_t> vcpus;  // created so far, for the "vcpu" fields of later steps
    for (std::size_t i = 0; i < steps.size(); ++i) {
      collect([&] {
        Step st;
        st.index = i;
        st.path = "/steps/" + std::to_string(i);
        const auto& raw = steps[i];
        if (!raw.is_object()) throw ScenarioError(st.path, "expected a step object");
        st.op = str_field(raw, "op", st.path, true);
        const OpSpec* spec = find_op_spec(st.op);
        if (!spec) {
            std::string list;
            std::vector<std::string> names;
            for (const OpSpec& o : op_specs()) list += (list.empty() ? "" : ", ") + std::string(o.op), names.emplace_back(o.op);
            throw ScenarioError(st.path + "/op", "unknown op \"" + st.op + "\"" + did_you_mean(st.op, names) + " (expected one of: " + list + ")");
        }
        if (kArm64OnlyOps.contains(st.op) && s.arch != "arm64") throw ScenarioError(st.path + "/op", "op \"" + st.op + "\" is arm64 only");
        if (kX86OnlyOps.contains(st.op) && s.arch != "x86_64") throw ScenarioError(st.path + "/op", "op \"" + st.op + "\" is x86_64 only");
        if (is_vmm_op(st.op) && s.arch != "x86_64" && s.arch != "arm64")
            throw ScenarioError(st.path + "/op", "op \"" + st.op + "\" runs kvmtool's x86_64 or arm64 build; this scenario is " + s.arch);
        const std::vector<FieldSpec>& extra = arch_extra_fields(s.arch, st.op);
        // Each unknown key and each bad or missing field is an error of its own, so validate
        // lists them all; the checks after these read the fields, so they wait for all to be fine.
        // The set of allowed keys is built only for the message: per step it cost as much as
        // parsing the step.
        const std::size_t errors_before = errors.size();
        for (const auto& item : raw.items()) {
            const std::string& key = item.key();
            if (step_key_allowed(key, *spec, extra)) continue;
            std::set<std::string> allowed = {"op", "expect", "expect_on", "comment"};
            for (const FieldSpec& f : spec->fields) allowed.insert(f.key);
            for (const FieldSpec& f : extra) allowed.insert(f.key);
            collect([&] { check_keys(nlohmann::json{{key, item.value()}}, st.path, allowed); });
        }
        st.fields = raw;
        StepFields fields(st, s);
        for (const FieldSpec& f : spec->fields)
            collect([&] {
                if (!raw.contains(f.key)) {
                    if (f.required) throw ScenarioError(st.path, "step \"" + st.op + "\" needs the field \"" + f.key + "\"");
                    return;
                }
                check_field(fields, f, raw);
            });
        if (errors.size() != errors_before) return;
        check_paging_step(st, fields);
        check_hole_step(s, st, fields);
        if (st.op == "KVM_CHECK_EXTENSION") check_cap_modelled(s.arch, fields, st.path + "/cap");
        for (const FieldSpec& f : extra)
            if (raw.contains(f.key)) check_field(fields, f, raw);
        if (s.arch == "arm64" && raw.contains("cpl")) throw ScenarioError(st.path + "/cpl", "\"cpl\" is an x86_64 field (arm64 accesses run at EL1)");
        if (s.arch == "arm64") check_arm64_stage1_step(st, fields);
        if (st.op == "KVM_CREATE_DEVICE") (void)parse_create_device(fields);
        if (st.op == "kvm_call" && !kCallFns.contains(fields.string("fn")))
            throw ScenarioError(st.path + "/fn", "unknown kernel function \"" + fields.string("fn") +
                                                     "\" (gfn_to_hva, gfn_to_hva_many, gfn_to_hva_prot, gfn_to_pfn_memslot, kvm_read_guest, kvm_write_guest)");
        if (is_vmm_op(st.op)) check_vmm_step(fields, st.op);
        if (s.arch == "arm64") check_arm64_insn_step(st, fields);
        if (raw.contains("expect")) {
            check_expect(raw.at("expect"), st.op, st.path + "/expect");
            st.expect = raw.at("expect");
        }
        if (raw.contains("expect_on")) {
            const auto& eo = raw.at("expect_on");
            if (!eo.is_object()) throw ScenarioError(st.path + "/expect_on", "expected an object of profile name -> expectation");
            for (const auto& [profile, e] : eo.items()) {
                check_profile(profile, st.path + "/expect_on/" + profile);
                check_expect(e, st.op, st.path + "/expect_on/" + profile);
                st.expect_on.emplace(profile, e);
            }
        }
        // A step on a vCPU that no earlier KVM_CREATE_VCPU made cannot run anywhere: bad input.
        if (st.op == "KVM_CREATE_VCPU") {
            if (!(st.expect && st.expect->is_string())) vcpus.insert(fields.u32("id"));
        } else if (raw.contains("vcpu") && !vcpus.contains(fields.u32("vcpu"))) {
            throw ScenarioError(st.path + "/vcpu", "vCPU " + std::to_string(fields.u32("vcpu")) + " is not created by an earlier step (add {\"op\": \"KVM_CREATE_VCPU\", \"id\": " +
                                                       std::to_string(fields.u32("vcpu")) + "} before it)");
        }
        s.steps.push_back(std::move(st));
      });
    }
    collect([&] { check_limits(s); });
    return finish(std::move(s), errors);
}

Scenario load_scenario(const std::string& file) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) throw ScenarioError("", "cannot read the file: " + ec.message());
    if (size > kMaxFileBytes) throw ScenarioError("", "file larger than " + std::to_string(kMaxFileBytes) + " bytes");
    std::ifstream in(file, std::ios::binary);
    if (!in) throw ScenarioError("", "cannot open the file");
    std::stringstream buf;
    buf << in.rdbuf();
    return load_scenario_text(buf.str(), file);
}

Scenario load_scenario_text(const std::string& text, const std::string& file) {
    if (text.size() > kMaxFileBytes) throw ScenarioError("", "input larger than " + std::to_string(kMaxFileBytes) + " bytes");
    // nlohmann's parser recurses per nesting level: refuse absurd depth before parsing.
    int depth = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') in_string = true;
        else if (c == '{' || c == '[') {
            if (++depth > 64) throw ScenarioError("", "JSON nested deeper than 64 levels");
        } else if (c == '}' || c == ']') --depth;
    }
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        // parse_error, and out_of_range for a number past the double range (1e309).
        throw ScenarioError("", std::string("not valid JSON: ") + e.what());
    }
    return parse_scenario(std::move(doc), file);
}

}  // namespace kvmsim::sim
