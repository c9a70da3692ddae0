// Runs scenario steps against the kernel model.
#include <cstring>

#include "arm64_steps.h"
#include "backend.h"
#include "fields.h"
#include "limits.h"
#include "outcome.h"
#include "paging_steps.h"
#include "host_steps.h"
#include "runner.h"
#include "model/kvm/invariants.h"
#include "model/kvm/kvm.h"
#include "model/kvm/translate.h"
#include "model/x86/guest_access.h"
#include "model/x86/x86_arch.h"
#include "vmm_steps.h"

namespace kvmsim::sim {
namespace {

Prot to_prot(std::uint32_t bits) { return Prot{.read = (bits & 1) != 0, .write = (bits & 2) != 0, .exec = (bits & 4) != 0}; }

MappingKind to_kind(const std::vector<std::string>& flags) {
    for (const auto& f : flags)
        if (f == "pfnmap") return MappingKind::PfnMap;
    for (const auto& f : flags)
        if (f == "shared" || f == "memfd") return MappingKind::Shared;
    return MappingKind::Anonymous;
}

Backing to_backing(const std::vector<std::string>& flags) {
    if (std::find(flags.begin(), flags.end(), "hugetlb") != flags.end()) return Backing::Hugetlb;
    return std::find(flags.begin(), flags.end(), "memfd") != flags.end() ? Backing::Memfd : Backing::Anonymous;
}

class ModelBackend final : public Backend {
public:
    [[nodiscard]] std::string name() const override { return "model"; }

    void start(const Scenario& scenario, const RunConfig& config) override {
        scenario_ = &scenario;
        checker_ = InvariantChecker{};
        Profile profile = *find_profile(config.profile);
        for (const auto& p : config.apply) profile.apply(*patch_from_name(p));
        for (const auto& p : config.revert) profile.revert(*patch_from_name(p));
        if (!profile_supports_arch(config.profile, scenario.arch))
            throw ScenarioError("/arch", "profile \"" + config.profile + "\" is not an " + scenario.arch + " profile (kvmsim profiles shows each profile's arch)");
        // The step handlers refer to the VM: they go before it does.
        arm64_.reset();
        vmm_.reset();
        paging_ = PagingSteps{};
        unmet_.reset();
        if (scenario.arch == "arm64") {
            // The CPU the model is: the compared machine's features (or the platform's), less
            // what the scenario's vm.host removes; a feature it requires and lacks skips it.
            const HostDescription described = pinned(config.host.value_or(HostDescription{}), scenario.host_pins);
            unmet_ = unmet_requirement(scenario.required_features, described);
            mm_ = std::make_unique<HostMm>();
            // THP is modelled where it is observable, arm64's stage-2 block levels (docs/arm64.md 2.4).
            mm_->set_thp_mode(described.transparent_hugepage);
            auto arch = make_arm64_arch(scenario, profile, *mm_, described);
            Arm64Arch& arm64 = *arch;
            kvm_ = std::make_unique<kvm>(*mm_, profile, std::move(arch));
            arm64_ = std::make_unique<Arm64Steps>(*kvm_, arm64);
            vmm_ = std::make_unique<VmmSteps>(make_arm64_model_vmm_host(*kvm_, *mm_, arm64));
            kvm_->trace().enable(config.trace);
            map_host(scenario);
            return;
        }
        platform_ = *platform_from_string(config.platform.value_or(scenario.platform));
        const VmType type = *vm_type_from_string(scenario.vm_type);
        const HostDescription host = pinned(config.host.value_or(HostDescription{}), scenario.host_pins);
        // A host without the type (vm.host vm_types) is the kvm backend's skip, not a bad scenario.
        if (!platform_supports(platform_, type))
            throw ScenarioError("/vm/type", "KVM_CREATE_VM: EINVAL: VM type \"" + scenario.vm_type + "\" is not supported on platform \"" + scenario.platform + "\"");
        mm_ = std::make_unique<HostMm>();
        kvm_ = std::make_unique<kvm>(*mm_, profile, std::make_unique<X86Arch>(platform_, type, host));
        kvm_->trace().enable(config.trace);
        vmm_ = std::make_unique<VmmSteps>(*kvm_, *mm_, platform_);
        map_host(scenario);
    }

    void map_host(const Scenario& scenario) {
        for (std::size_t i = 0; i < scenario.mmaps.size(); ++i) {
            const HostMapping& m = scenario.mmaps[i];
            const KvmResult r = mm_->mmap(Hva(m.hva), m.size, to_prot(parse_prot(m.prot, "")), to_kind(m.flags), m.name, to_backing(m.flags));
            if (!r.is_ok())
                throw ScenarioError("/host/mmap/" + std::to_string(i), "mmap failed: " + std::string(to_string(*r.err())) + " (overlap, unaligned hva or beyond the user address space)");
        }
    }

    StepResult run(const Step& step) override {
        if (unmet_) {
            StepResult skipped;
            skipped.skipped = true;
            skipped.skip_reason = *unmet_;
            return skipped;
        }
        // Each step touches a bounded number of host pages, so refusing every step once past the
        // limit bounds memory.
        if (mm_->resident_pages() > kMaxResidentHostPages)
            throw ScenarioError(step.path, "the scenario has touched more than " + std::to_string(kMaxResidentHostPages) +
                                               " host pages; the model holds at most that many (docs/limits.md)");
        StepResult r;
        r.actual = dispatch(step);
        if (step.op.rfind("host_", 0) == 0) trace_host_step(step, r.actual);
        r.trace = kvm_->trace().take();
        // A step whose kernel path emitted nothing still shows the ioctl it was and its answer.
        if (r.trace.empty() && kvm_->trace().enabled()) r.trace.push_back({ioctl_function(step.op), "returns " + render(r.actual)});
#ifndef NDEBUG
        // Debug builds (the sanitizer job among them) check the table after every step: a
        // broken invariant is a model bug, reported as one (exit 3 with the file named).
        if (auto bad = checker_.check(*kvm_)) throw std::logic_error("model invariant broken after " + step.path + ": " + *bad);
#endif
        return r;
    }

private:
    // The kernel function an ioctl step enters first (the op itself for the rest).
    static std::string_view ioctl_function(const std::string& op) {
        static const std::map<std::string, std::string_view> fns = {
            {"KVM_CHECK_EXTENSION", "kvm_vm_ioctl_check_extension_generic"}, {"KVM_ENABLE_CAP", "kvm_vm_ioctl_enable_cap_generic"},
            {"KVM_SET_USER_MEMORY_REGION", "kvm_vm_ioctl_set_memory_region"}, {"KVM_GET_DIRTY_LOG", "kvm_vm_ioctl_get_dirty_log"},
            {"KVM_CLEAR_DIRTY_LOG", "kvm_vm_ioctl_clear_dirty_log"}, {"KVM_CREATE_VCPU", "kvm_vm_ioctl_create_vcpu"},
            {"KVM_CREATE_VM", "kvm_dev_ioctl_create_vm"}, {"KVM_ARM_VCPU_INIT", "kvm_arch_vcpu_ioctl_vcpu_init"},
            {"KVM_SET_SREGS", "kvm_arch_vcpu_ioctl_set_sregs"}};
        const auto it = fns.find(op);
        return it == fns.end() ? std::string_view(op) : it->second;
    }

    // The VMM's own system calls and loads/stores have no kernel function in the model to trace;
    // name them by what the VMM does, so explain shows every step's path.
    void trace_host_step(const Step& step, const nlohmann::json& outcome) {
        static const std::map<std::string, std::string> what = {{"host_mmap", "mmap"}, {"host_munmap", "munmap"}, {"host_mprotect", "mprotect"},
                                                                {"host_poison", "madvise(MADV_HWPOISON)"}, {"host_read", "VMM load"}, {"host_write", "VMM store"},
                                                                {"host_madvise", "madvise"}, {"host_uffd_register", "UFFDIO_REGISTER"}};
        const auto it = what.find(step.op);
        if (it == what.end()) return;
        kvm_->trace().emit(it->second, [&] {
            std::string hva = step.fields.contains("hva") ? (step.fields["hva"].is_string() ? step.fields["hva"].get<std::string>() : step.fields["hva"].dump()) : "?";
            return "hva " + hva + (step.fields.contains("size") ? " size " + step.fields["size"].dump() : std::string()) + " -> " +
                   (outcome.is_object() && outcome.contains("errno") ? outcome["errno"].get<std::string>() : outcome.dump());
        });
    }

    nlohmann::json dispatch(const Step& step) {
        const StepFields f(step, *scenario_);
        const std::string& op = step.op;
        if (arm64_)
            if (auto j = arm64_->dispatch(step, f)) return *j;
        if (op == "KVM_CHECK_EXTENSION") {
            const Cap cap = static_cast<Cap>(f.cap("cap"));
            return cap_answer(kvm_->check_extension(cap, f.string_or("fd", "vm") == "system" ? CheckOn::SystemFd : CheckOn::VmFd), cap, kvm_->profile().name(), step.path);
        }
        if (op == "KVM_SET_USER_MEMORY_REGION")
            return result_json(kvm_->set_user_memory_region({f.u32("slot"), f.memslot_flags("flags"), f.u64("guest_phys_addr"), f.u64("memory_size"), f.hva("userspace_addr")}));
        if (op == "KVM_GET_DIRTY_LOG") return dirty_log(f);
        if (op == "KVM_CLEAR_DIRTY_LOG") return clear_dirty_log(f);
        if (op == "KVM_CREATE_VCPU") return result_json(kvm_->create_vcpu(f.u32("id")));
        if (op == "KVM_ENABLE_CAP") return result_json(kvm_->enable_cap(static_cast<Cap>(f.cap("cap")), f.enable_cap_flags("flags"), f.args("args")));
        if (op == "guest_read" || op == "guest_write") return guest_access(step, f);
        if (op == "host_read" || op == "host_write") return host_access(f, op == "host_write");
        if (op == "host_mmap")
        {
            const auto flags = f.string_list("flags");
            return result_json(mm_->mmap(Hva(f.u64("hva")), f.u64("size"), to_prot(f.prot("prot")), to_kind(flags), f.string("name"), to_backing(flags)));
        }
        if (op == "host_munmap") {
            const Hva start(f.hva("hva"));
            kvm_->mmu_notifier_invalidate_range(start, start + f.u64("size"));
            return result_json(mm_->munmap(start, f.u64("size")));
        }
        if (op == "host_mprotect") {
            const Hva start(f.hva("hva"));
            kvm_->mmu_notifier_invalidate_range(start, start + f.u64("size"));
            return result_json(mm_->mprotect(start, f.u64("size"), to_prot(f.prot("prot"))));
        }
        if (op == "host_poison") {
            if (!platform_options(platform_).hwpoison_injection) return std::string("EINVAL");  // probed on the PVM hosts
            const Hva hva(f.hva("hva"));
            const HwpoisonResult r = mm_->madvise_hwpoison(hva, kvm_->profile().has(Patch::MadviseHwpoisonActionRequired));
            // The signal arrives before madvise() returns, as the kvm backend sees it.
            if (r.sigbus) return nlohmann::json{{"signal", "SIGBUS"}, {"hva", hva.value() & PAGE_MASK}};
            return result_json(r.result);
        }
        if (is_hole_op(op)) return hole_step(op, f);
        if (op == "kvm_call") return kvm_call(f);
        if (arm64_ && (op == "KVM_SET_SREGS" || op == "build_page_tables" || op == "guest_fetch"))
            throw ScenarioError(step.path + "/op", "\"" + op + "\" is an x86_64 step; this scenario is arm64");
        if (is_vmm_op(op)) return vmm_->run(step, f);
        if (op == "KVM_SET_SREGS") return paging_.set_sregs(*kvm_, platform_, step, f);
        if (op == "build_page_tables") return paging_.build_page_tables(*kvm_, step, f);
        if (op == "guest_fetch") return gva_access(step, f, GvaAccessType::Fetch);
        throw ScenarioError(step.path + "/op", "op not handled by the model backend");
    }

    // Holes and userfaultfd (sim/host_steps.h). A hole punched under a memslot reaches KVM the
    // way every zap of the VMM's page tables does: through the MMU notifier.
    nlohmann::json hole_step(const std::string& op, const StepFields& f) {
        HvaRange zapped;
        KvmResult r = KvmResult::ok();
        // Holes and userfaultfd on hugetlb work in whole huge pages (hugetlb_fault(), hugetlbfs'
        // own fallocate): not modelled.
        if (op == "host_madvise" || op == "host_uffd_register")
            if (const vm_area_struct* v = mm_->find_vma(Hva(f.hva("hva"))); v && v->backing == Backing::Hugetlb)
                throw ScenarioError(f.path("hva"), op + " on a \"hugetlb\" mapping is not modelled (huge pages go whole)");
        if (op == "host_madvise") {
            r = mm_->madvise_dontneed(Hva(f.hva("hva")), f.u64("size"), zapped);
        } else if (op == "host_fallocate") {
            r = mm_->fallocate(f.string("mapping"), falloc_mode(f), f.u64("offset"), f.u64("len"), zapped);
            kvm_->trace().emit("shmem_fallocate", [&] {
                return f.string("mapping") + " offset " + hex(f.u64("offset")) + " len " + hex(f.u64("len")) + " -> " + (r.is_ok() ? "0" : std::string(to_string(*r.err())));
            });
        } else if (op == "host_uffd_register") {
            return result_json(mm_->uffd_register(Hva(f.hva("hva")), f.u64("size"), uffd_serve(f)));
        } else {
            const auto n = mm_->uffd_faults(Hva(f.hva("hva")));
            if (!n) throw ScenarioError(f.path("hva"), "no host_uffd_register step registered a range starting at " + hex(f.hva("hva")));
            return *n;
        }
        if (!zapped.empty()) kvm_->mmu_notifier_invalidate_range(zapped.start, zapped.end);
        return result_json(r);
    }

    nlohmann::json dirty_log(const StepFields& f) {
        const DirtyLog log = kvm_->get_dirty_log(f.u32("slot"));
        if (!log.result.is_ok()) return result_json(log.result);
        const std::uint64_t dirty = log.bitmap.count();
        if (dirty > kMaxDirtyPagesListed)
            throw ScenarioError(f.path("slot"), "KVM_GET_DIRTY_LOG returned " + std::to_string(dirty) + " dirty pages; kvmsim lists at most " +
                                                    std::to_string(kMaxDirtyPagesListed) + " in an outcome (docs/limits.md)");
        nlohmann::json pages = nlohmann::json::array();
        log.bitmap.for_each_run([&](std::uint64_t first, std::uint64_t end, std::uint64_t value) {
            for (std::uint64_t w = first; w < end; ++w)
                for (unsigned b = 0; b < 64; ++b)
                    if ((value >> b) & 1) pages.push_back(w * 64 + b);
        });
        return {{"dirty_pages", pages}};
    }

    nlohmann::json clear_dirty_log(const StepFields& f) {
        const std::uint32_t num = f.u32("num_pages");
        // Without "pages" the bitmap asks to clear every page of the range (all its words set).
        DirtyBitmap bitmap((static_cast<std::uint64_t>(num) + 63) / 64 * 64);
        if (f.has("pages")) {
            for (std::uint64_t p : f.number_list("pages"))
                if (p < num) bitmap.set(p);
        } else {
            bitmap.set_all();
        }
        return result_json(kvm_->clear_dirty_log(f.u32("slot"), f.u64("first_page"), num, bitmap));
    }

    nlohmann::json guest_access(const Step& step, const StepFields& f) {
        if (f.has("gva")) return gva_access(step, f, step.op == "guest_write" ? GvaAccessType::Write : GvaAccessType::Read);
        kvm_vcpu* vcpu = kvm_->vcpu(f.u32("vcpu"));
        if (!vcpu) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")) + " (create it with KVM_CREATE_VCPU first)");
        GuestAccess a;
        a.gpa = Gpa(f.u64("gpa"));
        a.size = f.access_size("size");
        a.type = step.op == "guest_write" ? AccessType::Write : AccessType::Read;
        if (a.type == AccessType::Write) a.data = f.data("data", a.size);
        const std::uint64_t reply = f.has("mmio_reply") ? f.data("mmio_reply", a.size) : 0;
        std::memcpy(a.mmio_reply.data(), &reply, sizeof reply);
        const GuestAccessResult res = x86_guest_access(*kvm_, *vcpu, platform_options(platform_), a);
        return guest_access_json(res, a.type == AccessType::Write, a.data);
    }

    nlohmann::json host_access(const StepFields& f, bool write) {
        const unsigned size = f.access_size("size");
        std::uint64_t v = write ? f.data("data", size) : 0;
        std::array<std::uint8_t, 8> buf{};
        std::memcpy(buf.data(), &v, 8);
        const KvmResult r = mm_->access_remote(Hva(f.hva("hva")), std::span(buf.data(), size), write);
        if (!r.is_ok()) return {{"errno", std::string(to_string(*r.err()))}};
        if (write) return 0;
        v = 0;
        std::memcpy(&v, buf.data(), size);
        return {{"data", v}};
    }

    nlohmann::json kvm_call(const StepFields& f) {
        const std::string fn = f.string("fn");
        const unsigned as_id = f.u32_or("as_id", 0);
        if (as_id >= kvm_->nr_as_ids()) return {{"error", "KVM_HVA_ERR_BAD"}};
        const Gfn gfn(f.u64_or("gfn", 0));
        const kvm_memory_slot* slot = as_id == 0 ? kvm_->gfn_to_memslot(gfn) : kvm_->memslots(static_cast<std::uint16_t>(as_id)).search_memslots(gfn);
        if (fn == "gfn_to_hva" || fn == "gfn_to_hva_many" || fn == "gfn_to_hva_prot") {
            HvaLookup h = fn == "gfn_to_hva_prot" ? gfn_to_hva_memslot_prot(*kvm_, slot, gfn)
                          : fn == "gfn_to_hva_many" ? gfn_to_hva_many_inner(*kvm_, slot, gfn, {.write = f.boolean_or("write", true)})
                                                    : gfn_to_hva_many(*kvm_, slot, gfn);
            if (h.error) return {{"error", std::string(to_string(*h.error))}};
            nlohmann::json j = {{"hva", h.hva.value()}};
            if (fn == "gfn_to_hva_many") j["nr_pages"] = h.nr_pages;
            if (fn == "gfn_to_hva_prot") j["writable"] = h.writable;
            return j;
        }
        if (fn == "gfn_to_pfn_memslot") {
            const bool write = f.boolean_or("write", false);
            const PfnLookup p = gfn_to_pfn_memslot_inner(*kvm_, slot, gfn, {.write = write, .want_writable = !write});
            if (p.error) return {{"error", std::string(to_string(*p.error))}};
            return {{"pfn", p.pfn.value()}, {"writable", p.writable}};
        }
        const unsigned size = f.access_size("size");
        std::array<std::uint8_t, 8> buf{};
        if (fn == "kvm_write_guest") {
            const std::uint64_t v = f.data("data", size);
            std::memcpy(buf.data(), &v, 8);
            const KvmResult r = kvm_write_guest(*kvm_, Gpa(f.u64("gpa")), std::span<const std::uint8_t>(buf.data(), size));
            return {{"ret", result_json(r)}};
        }
        const KvmResult r = kvm_read_guest(*kvm_, Gpa(f.u64("gpa")), std::span(buf.data(), size));
        if (!r.is_ok()) return {{"ret", result_json(r)}};
        std::uint64_t v = 0;
        std::memcpy(&v, buf.data(), size);
        return {{"ret", 0}, {"data", v}};
    }

    // A guest access by gva (or a fetch): translated by the guest's page tables first.
    nlohmann::json gva_access(const Step& step, const StepFields& f, GvaAccessType type) {
        kvm_vcpu* vcpu = kvm_->vcpu(f.u32("vcpu"));
        if (!vcpu) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(f.u32("vcpu")) + " (create it with KVM_CREATE_VCPU first)");
        const GuestAccessResult res = paging_.access(*kvm_, platform_, *vcpu, f, type).access;
        nlohmann::json j = res.events.empty() ? nlohmann::json::object() : event_json(res.events.front());
        if (res.completed && type != GvaAccessType::Write) j["data"] = res.data;
        if (res.completed && res.events.empty() && type == GvaAccessType::Write) j["data"] = f.data("data", f.access_size("size"));
        return j;
    }

    PagingSteps paging_;
    const Scenario* scenario_ = nullptr;
    std::optional<std::string> unmet_;  // the scenario's "requires" this CPU does not meet
    InvariantChecker checker_;
    Platform platform_ = Platform::Vmx;
    std::unique_ptr<HostMm> mm_;
    std::unique_ptr<kvm> kvm_;
    std::unique_ptr<VmmSteps> vmm_;  // after kvm_: destroyed first, it refers to the VM
    std::unique_ptr<Arm64Steps> arm64_;  // set for arm64 scenarios
};

}  // namespace

std::unique_ptr<Backend> make_model_backend() { return std::make_unique<ModelBackend>(); }

}  // namespace kvmsim::sim
