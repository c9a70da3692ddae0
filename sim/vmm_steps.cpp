#include "vmm_steps.h"

#include <cstring>
#include <set>
#include <sstream>

#include "model/vmm/cfi_flash.h"
#include "model/vmm/model_host.h"
#include "model/vmm/scratch_device.h"
#include "outcome.h"

namespace kvmsim::sim {
namespace {

const std::set<std::string, std::less<>> kVmmOps = {"vmm_register_mem", "vmm_destroy_mem",    "vmm_mem_banks",  "vmm_mem_type_to_string",
                                                    "vmm_cfi_flash",    "vmm_scratch_device", "vmm_guest_read", "vmm_guest_write",
                                                    "vmm_options",      "vmm_memory_map"};

std::optional<vmm::FlashMapping> mapping_from_string(std::string_view s) {
    if (s == "kvmtool") return vmm::FlashMapping::Kvmtool;
    if (s == "mmio-fallback") return vmm::FlashMapping::MmioFallback;
    if (s == "ram-fallback") return vmm::FlashMapping::RamFallback;
    return std::nullopt;
}

vmm::MemType mem_type(const StepFields& f, const char* key) {
    const auto t = vmm::mem_type_from_string(f.string(key));
    if (!t) throw ScenarioError(f.path(key), "expected a kvmtool bank type: RAM, DEVICE, RESERVED, READONLY, ALL joined with '|' (\"RAM|READONLY\"), or a number");
    return *t;
}

std::uint64_t bytes_value(const std::array<std::uint8_t, 8>& b, std::uint32_t len) {
    std::uint64_t v = 0;
    std::memcpy(&v, b.data(), std::min<std::uint32_t>(len, 8));
    return v;
}

void check_array_of(const nlohmann::json& e, const char* key, const std::string& path, const std::set<std::string>& keys) {
    if (!e.contains(key)) return;
    const auto& a = e.at(key);
    const std::string p = path + "/" + key;
    if (!a.is_array()) throw ScenarioError(p, "expected a list");
    for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string pi = p + "/" + std::to_string(i);
        if (keys.empty()) {
            if (!a[i].is_string()) throw ScenarioError(pi, "expected a string");
            continue;
        }
        if (!a[i].is_object()) throw ScenarioError(pi, "expected an object");
        for (const auto& [k, v] : a[i].items()) {
            if (!keys.contains(k)) {
                std::string list;
                for (const auto& n : keys) list += (list.empty() ? "" : ", ") + n;
                throw ScenarioError(pi + "/" + k, "unknown key \"" + k + "\" (expected one of: " + list + ")");
            }
            if (v.is_boolean() || k == "device" || k == "decision" || k == "exit" || k == "name" || k == "what") continue;
            (void)parse_number(v, pi + "/" + k);
        }
    }
}

bool expects_key(const Step& step, const char* key) {
    auto has = [&](const nlohmann::json& e) { return e.is_object() && e.contains(key); };
    if (step.expect && has(*step.expect)) return true;
    for (const auto& [profile, e] : step.expect_on)
        if (has(e)) return true;
    return false;
}

}  // namespace

bool is_vmm_op(std::string_view op) { return kVmmOps.contains(op); }

void check_vmm_step(const StepFields& f, const std::string& op) {
    if (f.has("type")) (void)mem_type(f, "type");
    if (op == "vmm_memory_map" && f.has("arch") && !vmm::vmm_arch_from_string(f.string("arch")))
        throw ScenarioError(f.path("arch"), "expected \"x86_64\", \"arm64\" or \"riscv64\"");
    if (f.has("mapping") && !mapping_from_string(f.string("mapping")))
        throw ScenarioError(f.path("mapping"), "expected \"kvmtool\", \"mmio-fallback\" or \"ram-fallback\"");
    if (op == "vmm_scratch_device" && (f.u64("size") == 0 || f.u64("size") > vmm::ScratchDevice::kMaxSize))
        throw ScenarioError(f.path("size"), "a scratch device holds 1 byte to 1M");
    if (op == "vmm_scratch_device" && f.u64("gpa") + f.u64("size") < f.u64("gpa"))
        throw ScenarioError(f.path("size"), "the range wraps past the top of the guest physical address space");
    if (op == "vmm_cfi_flash" && f.has("base") && f.u64("base") + vmm::CfiFlash::flash_size(f.u64("file_size")) < f.u64("base"))
        throw ScenarioError(f.path("base"), "the flash would wrap past the top of the guest physical address space");
}

void check_vmm_expect(const nlohmann::json& e, const std::string& path) {
    if (!e.is_object()) throw ScenarioError(path, "a VMM step expects an object such as {\"ret\": 0} or {\"data\": ...}, got " + e.dump());
    static const std::set<std::string> keys = {"ret", "log", "memslots", "flash", "vmm", "listing", "mem_slots", "string", "size",
                                               "exits", "data", "completed", "errno", "signal", "exception", "death",
                                               "map", "bank_order"};
    for (const auto& [k, v] : e.items())
        if (!keys.contains(k)) {
            std::string list;
            for (const auto& n : keys) list += (list.empty() ? "" : ", ") + n;
            throw ScenarioError(path + "/" + k, "unknown key \"" + k + "\" (expected one of: " + list + ")");
        }
    if (e.contains("ret")) {
        const auto& r = e.at("ret");
        if (r.is_string() && !r.get<std::string>().empty() && !std::isdigit(static_cast<unsigned char>(r.get<std::string>()[0]))) {
            if (!errno_from_string(r.get<std::string>())) throw ScenarioError(path + "/ret", "expected 0 or an errno name such as \"EINVAL\"");
        } else {
            (void)parse_number(r, path + "/ret");
        }
    }
    for (const char* k : {"data", "mem_slots", "size"})
        if (e.contains(k)) (void)parse_number(e.at(k), path + "/" + k);
    for (const char* k : {"string", "vmm", "death"})
        if (e.contains(k) && !e.at(k).is_string()) throw ScenarioError(path + "/" + k, "expected a string");
    if (e.contains("completed") && !e.at("completed").is_boolean()) throw ScenarioError(path + "/completed", "expected true or false");
    check_array_of(e, "log", path, {});
    check_array_of(e, "listing", path, {});
    check_array_of(e, "map", path, {"name", "base", "size", "what"});
    check_array_of(e, "bank_order", path, {});
    check_array_of(e, "memslots", path, {"slot", "guest_phys_addr", "memory_size", "userspace_addr", "flags"});
    check_array_of(e, "exits", path, {"exit", "phys_addr", "len", "is_write", "data", "device", "decision", "reply"});
    if (e.contains("flash")) {
        const auto& fl = e.at("flash");
        if (!fl.is_object()) throw ScenarioError(path + "/flash", "expected an object");
        for (const auto& [k, v] : fl.items()) {
            if (k == "state" || k == "read_mode") {
                if (!v.is_string()) throw ScenarioError(path + "/flash/" + k, "expected a name such as \"READY\" or \"READ_ARRAY\"");
            } else if (k == "mapped") {
                if (!v.is_boolean()) throw ScenarioError(path + "/flash/mapped", "expected true or false");
            } else if (k == "sr" || k == "size" || k == "base") {
                (void)parse_number(v, path + "/flash/" + k);
            } else {
                throw ScenarioError(path + "/flash/" + k, "unknown key \"" + k + "\" (expected one of: base, mapped, read_mode, size, sr, state)");
            }
        }
    }
    if (e.contains("errno") && (!e.at("errno").is_string() || !errno_from_string(e.at("errno").get<std::string>())))
        throw ScenarioError(path + "/errno", "expected an errno name such as \"EFAULT\"");
}

nlohmann::json model_memslots(kvm& vm) {
    std::vector<const kvm_memory_slot*> slots;
    vm.memslots(0).for_each([&](const kvm_memory_slot& s) { slots.push_back(&s); });
    std::sort(slots.begin(), slots.end(), [](auto* a, auto* b) { return a->id < b->id; });
    nlohmann::json out = nlohmann::json::array();
    for (const kvm_memory_slot* s : slots)
        out.push_back({{"slot", s->id},
                       {"guest_phys_addr", gfn_to_gpa(s->base_gfn).value()},
                       {"memory_size", s->npages * PAGE_SIZE},
                       {"userspace_addr", s->userspace_addr.value()},
                       {"flags", s->flags}});
    return out;
}

namespace vmm_detail {

// The VMM's outside world as the kernel model.
class ModelHost final : public VmmHost {
public:
    ModelHost(kvm& vm, HostMm& mm, Platform platform) : kvm_(vm), platform_(platform), ioctls_(vm), memory_(vm, mm) {}
    vmm::VmIoctls& ioctls() override { return ioctls_; }
    vmm::VmmMemory& memory() override { return memory_; }
    std::optional<vmm::KvmRun> vcpu_run(std::uint32_t id) override {
        kvm_vcpu* vcpu = kvm_.vcpu(id);
        if (!vcpu) return std::nullopt;
        return vmm::model_kvm_run(kvm_, *vcpu, platform_options(platform_));
    }

    // The kernel's memslot table of address space 0, as a debugger would show it.
    nlohmann::json memslots() const override { return model_memslots(kvm_); }

private:
    kvm& kvm_;
    Platform platform_;
    vmm::ModelVmIoctls ioctls_;
    vmm::ModelVmmMemory memory_;
};

class Session {
public:
    explicit Session(std::unique_ptr<VmmHost> host) : host_(std::move(host)), vmm_(host_->ioctls(), host_->memory()) { vmm_.arch = host_->arch(); }

    nlohmann::json run(const Step& step, const StepFields& f) {
        nlohmann::json j = dispatch(step, f);
        // The table is as large as the VM (32764 slots): an outcome carries it only where the
        // step checks it, so a long run costs what its expectations ask for.
        if (expects_key(step, "memslots")) j["memslots"] = host_->memslots();
        if (flash_) {
            j["flash"] = {{"state", std::string(to_string(flash_->state()))}, {"read_mode", std::string(to_string(flash_->read_mode()))},
                          {"sr", flash_->sr()},                              {"mapped", flash_->is_mapped()},
                          {"size", flash_->size()},                          {"base", flash_->base().value()}};
        }
        j["log"] = vmm_.log().take();
        j["vmm"] = vmm_.state() == vmm::VmmState::Running ? "running" : "died";
        if (vmm_.state() == vmm::VmmState::Died) j["death"] = vmm_.death();
        return j;
    }

private:
    nlohmann::json dispatch(const Step& step, const StepFields& f) {
        const std::string& op = step.op;
        if (op == "vmm_register_mem")
            return {{"ret", result_json(vmm_.banks().register_mem(Gpa(f.u64("gpa")), f.u64("size"), Hva(f.hva("hva")), mem_type(f, "type")))}};
        if (op == "vmm_destroy_mem") return {{"ret", result_json(vmm_.banks().destroy_mem(Gpa(f.u64("gpa")), f.u64("size"), Hva(f.hva("hva"))))}};
        if (op == "vmm_mem_banks") {
            nlohmann::json lines = nlohmann::json::array();
            std::istringstream in(vmm_.banks().listing(f.has("type") ? mem_type(f, "type") : vmm::memtype::All));
            for (std::string line; std::getline(in, line);) lines.push_back(line);
            return {{"listing", lines}, {"mem_slots", vmm_.banks().mem_slots()}};
        }
        if (op == "vmm_mem_type_to_string") return {{"string", std::string(vmm::kvm_mem_type_to_string(mem_type(f, "type")))}};
        if (op == "vmm_options") {
            vmm_.debug_mmio = f.boolean_or("debug_mmio", vmm_.debug_mmio);
            vmm_.debug_ioport = f.boolean_or("debug_ioport", vmm_.debug_ioport);
            return nlohmann::json::object();
        }
        if (op == "vmm_scratch_device") {
            auto& dev = vmm_.add_device(std::make_unique<vmm::ScratchDevice>(Gpa(f.u64("gpa"))));
            return {{"ret", result_json(vmm_.mmio_bus().register_mmio(Gpa(f.u64("gpa")), f.u64("size"), dev))}};
        }
        if (op == "vmm_cfi_flash") return cfi_flash(step, f);
        if (op == "vmm_memory_map") return memory_map(f);
        return guest_access(step, f);
    }

    nlohmann::json cfi_flash(const Step& step, const StepFields& f) {
        if (flash_) throw ScenarioError(step.path + "/op", "kvmtool has one flash device (-F); this VM already has it");
        vmm::CfiFlashConfig c;
        c.flash_memory = Hva(f.hva("hva"));
        c.file_size = f.u64("file_size");
        c.base = Gpa(f.u64_or("base", vmm::KVM_FLASH_MMIO_BASE));
        c.mapping = *mapping_from_string(f.string_or("mapping", "kvmtool"));
        // kvmtool maps the file itself; here the scenario declares that mapping and must make
        // it as large as the flash, as mmap(size) would.
        const std::uint64_t size = vmm::CfiFlash::flash_size(c.file_size);
        if (!host_->memory().mapped(c.flash_memory, size))
            throw ScenarioError(f.path("hva"), "the flash file mapping must cover the flash size " + hex(size) + " (declare a \"shared\" mapping that large)");
        vmm::CfiFlash* dev = nullptr;
        const KvmResult r = vmm::CfiFlash::create(vmm_, c, &dev);
        flash_ = dev;
        return {{"ret", result_json(r)}, {"size", size}};
    }

    // kvmtool's map and start-up bank order for the scenario's arch, or the one named.
    nlohmann::json memory_map(const StepFields& f) {
        const vmm::VmmArch arch = f.has("arch") ? *vmm::vmm_arch_from_string(f.string("arch")) : vmm_.arch;
        nlohmann::json map = nlohmann::json::array();
        for (const vmm::MapArea& a : vmm::kvmtool_memory_map(arch))
            map.push_back({{"name", std::string(a.name)}, {"base", a.base}, {"size", a.size}, {"what", std::string(a.what)}});
        nlohmann::json banks = nlohmann::json::array();
        for (const vmm::BankOrder& b : vmm::kvmtool_bank_order(arch))
            banks.push_back(std::string(b.bank) + " by " + std::string(b.registered_by) + " when " + std::string(b.when));
        return {{"map", map}, {"bank_order", banks}};
    }

    nlohmann::json guest_access(const Step& step, const StepFields& f) {
        const std::optional<vmm::KvmRun> run = host_->vcpu_run(f.u32("vcpu"));
        if (!run) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")) + " (create it with KVM_CREATE_VCPU first)");
        vmm::VcpuAccess a;
        a.gpa = Gpa(f.u64("gpa"));
        a.size = f.access_size("size");
        a.is_write = step.op == "vmm_guest_write";
        if (a.is_write) a.data = f.data("data", a.size);
        a.isv = f.boolean_or("isv", true);
        // arm64 guest code issues one load or store; it never crosses a page (the x86 emulator
        // splits such an access into one exit per page, arm64 has no such path).
        if (vmm_.arch == vmm::VmmArch::Arm64 && (a.gpa.value() & 0xfff) + a.size > 0x1000)
            throw ScenarioError(f.path("gpa"), "an arm64 access stays within one page (this one crosses a page boundary)");
        const vmm::AccessOutcome out = vmm_.run_access(f.u32("vcpu"), a, *run);
        nlohmann::json j;
        nlohmann::json exits = nlohmann::json::array();
        for (const vmm::HandledExit& h : out.exits) {
            const kvm_run_mmio& m = h.event.mmio;
            nlohmann::json x = {{"exit", std::string(to_string(h.event.exit))}, {"phys_addr", m.phys_addr.value()}, {"len", m.len},
                                {"is_write", m.is_write}, {"device", h.device.empty() ? std::string("none") : h.device}, {"decision", h.decision}};
            if (m.is_write) x["data"] = bytes_value(m.data, m.len);
            else x["reply"] = bytes_value(h.reply, m.len);
            exits.push_back(x);
        }
        j["exits"] = exits;
        j["completed"] = out.completed;
        if (out.completed && !a.is_write) j["data"] = out.data;
        if (out.stop) {
            const VcpuEvent& e = *out.stop;
            if (e.kind == VcpuEvent::Kind::RunError) j["errno"] = std::string(to_string(e.error));
            if (e.kind == VcpuEvent::Kind::Signal) j["signal"] = std::string(to_string(e.signal));
            if (e.kind == VcpuEvent::Kind::Exception)
                j["exception"] = {{"vector", e.exception.vector}, {"error_code", e.exception.error_code}, {"cr2", e.exception.cr2}};
        }
        return j;
    }

    std::unique_ptr<VmmHost> host_;
    vmm::Vmm vmm_;
    vmm::CfiFlash* flash_ = nullptr;
};

}  // namespace vmm_detail

VmmSteps::VmmSteps(kvm& vm, HostMm& mm, Platform platform)
    : s_(std::make_unique<vmm_detail::Session>(std::make_unique<vmm_detail::ModelHost>(vm, mm, platform))) {}
VmmSteps::VmmSteps(std::unique_ptr<VmmHost> host) : s_(std::make_unique<vmm_detail::Session>(std::move(host))) {}
VmmSteps::~VmmSteps() = default;
nlohmann::json VmmSteps::run(const Step& step, const StepFields& f) { return s_->run(step, f); }

}  // namespace kvmsim::sim
