// Runs scenario steps on the real /dev/kvm: ioctls are the real ioctls, host mappings real
// mmaps, guest accesses real loads and stores by the backend's own guest code.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "backend.h"
#include "fields.h"
#include "kvm/fd.h"
#include "model/x86/platform.h"
#include "kvm/guest_image.h"
#include "kvm/host_layout.h"
#include "kvm/host_platform.h"
#include "kvm/vcpu.h"
#include "kvm/vmm_host.h"
#include "model/vmm/cfi_flash.h"
#include "outcome.h"
#include "paging_steps.h"
#include "runner.h"
#include "vmm_steps.h"

namespace kvmsim::sim {
namespace {

using namespace kvmhost;

constexpr std::uint64_t kPage = 4096;

nlohmann::json errno_json(long r) {
    if (r >= 0) return r;
    if (auto e = errno_from_value(static_cast<int>(-r))) return std::string(to_string(*e));
    return "errno " + std::to_string(-r);
}

// What KVM_CREATE_VM takes for the contract's VM type: the model's UAPI mapping.
std::optional<unsigned long> vm_type_number(const std::string& type) {
    const auto t = vm_type_from_string(type);
    if (!t) return std::nullopt;
    return static_cast<unsigned long>(kvm_x86_vm_type(*t));
}

struct Interval {
    std::uint64_t lo, hi;  // [lo, hi)
};

constexpr std::uint64_t kAccessedDirty = 0x60;
constexpr std::uint64_t kCr0Pg = 1ull << 31, kCr4La57 = 1u << 12, kEferLma = 1u << 10;

// A vCPU's registers as the scenario set them (the model's reset values until it does).
struct ScenarioPagingState {
    ScenarioPaging regs{0x60000010, 0, 0, 0};
    std::optional<std::uint64_t> idt_base;
};

class KvmBackend final : public Backend {
public:
    KvmBackend() : host_(probe_host_kvm()) {
        if (host_.usable) kvm_ = Fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
    }

    KvmBackend(const KvmBackend&) = delete;
    KvmBackend& operator=(const KvmBackend&) = delete;
    ~KvmBackend() override { reset(); }

    [[nodiscard]] std::string name() const override { return "kvm"; }
    [[nodiscard]] std::vector<std::string> notes() const override { return notes_; }

    void start(const Scenario& scenario, const RunConfig& config) override {
        reset();
        scenario_ = &scenario;
        trace_.enable(config.trace);
        skip_all_ = cannot_reproduce(scenario, config);
        if (skip_all_) return;
        if (!config.platform && scenario.platform != host_.platform)
            notes_.push_back("the scenario is written for platform " + scenario.platform + "; this host is " + host_.platform + " (" +
                             host_.platform_why + ")");
        const long fd = raw_ioctl(kvm_, KVM_CREATE_VM, *vm_type_number(scenario.vm_type));
        if (fd < 0) {
            skip_all_ = "this host refuses VM type \"" + scenario.vm_type + "\" (KVM_CREATE_VM: " + errno_json(fd).get<std::string>() + ")";
            return;
        }
        vm_ = Fd(static_cast<int>(fd));
        run_size_ = static_cast<std::size_t>(std::max(0L, raw_ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, 0)));
        maxphyaddr_ = guest_maxphyaddr(kvm_);
        if (auto err = layout_.place(scenario)) throw ScenarioError("/host", "the kvm backend cannot place the host mappings: " + *err);
        if (layout_.relocated()) {
            trace_.emit("mmap", [&] {
                return "the scenario's hvas are taken in this process: mappings placed at hva + " + hex(static_cast<std::uint64_t>(layout_.delta()));
            });
            notes_.push_back("host mappings relocated: every scenario hva in [" + hex(layout_.span().first) + ", " + hex(layout_.span().second) +
                             ") is at hva + " + hex(static_cast<std::uint64_t>(layout_.delta())) + " in this process");
        }
        plan_private_region(scenario);
        plan_alias_index(scenario);
        vmm_ = std::make_unique<VmmSteps>(std::make_unique<KvmVmmHost>(vm_, layout_, slots_, [this](std::uint32_t id) { return vmm_vcpu_run(id); }));
    }

    StepResult run(const Step& step) override {
        StepResult r;
        if (skip_all_) return skipped(*skip_all_);
        if (diverged_) return skipped(*diverged_);
        try {
            r.actual = dispatch(step);
            r.trace = trace_.take();
        } catch (const Skip& s) {
            // What follows a skipped step that changes state would be compared against a
            // state the kernel never reached.
            if (changes_state(step))
                diverged_ = "follows a skipped step that changes state (" + step.op + ")";
            return skipped(s.reason);
        }
        return r;
    }

private:
    struct Skip {
        std::string reason;
    };

    static StepResult skipped(std::string why) {
        StepResult r;
        r.skipped = true;
        r.skip_reason = std::move(why);
        return r;
    }

    static bool changes_state(const Step& step) {
        if (step.op == "host_read" || step.op == "KVM_CHECK_EXTENSION") return false;
        // A read by gva walks the guest's tables, and the walk sets their accessed bits.
        if (step.op == "guest_read") return step.fields.contains("gva");
        if (step.op == "kvm_call") return step.fields.value("fn", "") == "kvm_write_guest";
        return true;
    }

    std::optional<std::string> cannot_reproduce(const Scenario& s, const RunConfig& c) const {
        if (!host_.usable) return host_.why_not;
        if (s.arch != "x86_64") return "an " + s.arch + " scenario; this host is x86_64";
        if (c.profile != "mainline") return "kernel profile " + c.profile + " exists only in the model; this host runs Linux " + host_.kernel;
        if (!c.apply.empty() || !c.revert.empty()) return "patch toggles cannot be applied to the running kernel";
        if (!vm_type_number(s.vm_type)) return "VM type \"" + s.vm_type + "\" has no KVM_CREATE_VM number known to the backend";
        for (const auto& m : s.mmaps)
            if (std::find(m.flags.begin(), m.flags.end(), "pfnmap") != m.flags.end())
                return "a VM_PFNMAP host mapping needs a device driver's mmap; the backend cannot create one";
        for (const Step& st : s.steps)
            if (st.op == "host_mmap" && st.fields.contains("flags") && st.fields["flags"].is_array())
                for (const auto& f : st.fields["flags"])
                    if (f == "pfnmap") return "a VM_PFNMAP host mapping needs a device driver's mmap; the backend cannot create one";
        return std::nullopt;
    }

    void reset() {
        vmm_.reset();
        vcpus_.clear();
        paging_.clear();
        pool_used_.clear();
        alias_index_.reset();
        private_slot_created_ = false;
        image_.reset();
        if (private_mem_) ::munmap(private_mem_, GuestImage::kSize);
        private_mem_ = nullptr;
        vm_.reset();
        layout_.release();
        slots_.clear();
        notes_.clear();
        skip_all_.reset();
        diverged_.reset();
        private_plan_error_.reset();
    }

    // The backend's own slot: an id and a 1 MiB gpa range no step of the scenario names.
    void plan_private_region(const Scenario& s) {
        std::vector<Interval> used;
        std::vector<std::uint32_t> ids;
        // Every guest-physical address a step names, whatever the op (memslots, accesses, page
        // tables, VMM banks and devices), with the size beside it or two pages.
        static const std::vector<std::pair<const char*, const char*>> kGpaFields = {
            {"guest_phys_addr", "memory_size"}, {"gpa", "size"}, {"base", "size"}, {"root", ""}, {"pool", "pool_size"},
            {"gva", "size"}};  // with paging off a gva is a physical address
        for (const Step& st : s.steps) {
            const StepFields f(st, s);
            try {
                if (f.has("slot") && st.op.rfind("KVM_", 0) == 0) ids.push_back(f.u32("slot"));
                for (const auto& [key, size_key] : kGpaFields) {
                    if (!f.has(key) || !st.fields.at(key).is_primitive() || st.fields.at(key).is_boolean()) continue;
                    const std::uint64_t gpa = f.u64(key) & ~(kPage - 1);
                    std::uint64_t size = 2 * kPage;
                    if (*size_key && f.has(size_key) && !st.fields.at(size_key).is_boolean()) size = std::max(size, f.u64(size_key) + kPage);
                    used.push_back({gpa, gpa + size < gpa ? ~std::uint64_t{0} : gpa + size});
                }
                if (is_vmm_op(st.op)) reserve_vmm_range(st, f, used);
            } catch (const ScenarioError&) {
                // An unreadable field fails its own step; it reserves nothing here.
            }
        }
        const long nr = raw_ioctl(kvm_, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
        private_slot_.reset();
        for (long id = (nr > 0 ? nr : 32) - 1; id >= 0; --id)
            if (std::find(ids.begin(), ids.end(), static_cast<std::uint32_t>(id)) == ids.end()) {
                private_slot_ = static_cast<std::uint32_t>(id);
                break;
            }
        if (!private_slot_) {
            private_plan_error_ = "the scenario uses every memslot id; none is left for the backend's guest code";
            return;
        }
        std::sort(used.begin(), used.end(), [](const Interval& a, const Interval& b) { return a.lo < b.lo; });
        const std::uint64_t limit = maxphyaddr_ >= 64 ? ~std::uint64_t{0} : std::uint64_t{1} << maxphyaddr_;
        for (std::uint64_t start : {std::uint64_t{1} << 30, std::uint64_t{2} << 20}) {
            std::uint64_t c = start;
            for (const Interval& iv : used)
                if (iv.lo < c + GuestImage::kSize && iv.hi > c) c = (iv.hi + (2u << 20) - 1) & ~std::uint64_t{(2u << 20) - 1};
            if (c >= start && c + GuestImage::kSize <= limit) {
                private_gpa_ = c;
                return;
            }
        }
        private_plan_error_ = "the scenario's slots and accesses leave no free 1 MiB of guest physical space for the backend's guest code";
    }

    // A PML4 slot (4-level paging) that no gva of the scenario falls in: accesses by gva map the
    // backend's code there. Slot 256 is avoided (PVM keeps it for itself at CPL 3).
    void plan_alias_index(const Scenario& s) {
        std::vector<bool> used(512, false);
        auto mark = [&](std::uint64_t gva, std::uint64_t size) {
            const std::uint64_t first = (gva >> 39) & 511, last = ((gva + (size ? size - 1 : 0)) >> 39) & 511;
            for (std::uint64_t i = first;; i = (i + 1) & 511) {
                used[i] = true;
                if (i == last) break;
            }
        };
        for (const Step& st : s.steps) {
            const StepFields f(st, s);
            try {
                if (f.has("gva")) mark(f.u64("gva"), 8);
                if (f.has("idt_base")) mark(f.u64("idt_base"), 32 * 16);
                if (st.op == "build_page_tables")
                    for (const PtMapping& m : parse_page_table_spec(st, f).maps) mark(m.gva.value(), m.size);
            } catch (const ScenarioError&) {
                // An unreadable step fails on its own.
            }
        }
        for (unsigned i = 255; i >= 1; --i)
            if (!used[i]) {
                alias_index_ = i;
                return;
            }
    }

    // Creates the backend's slot the first time a guest access needs it.
    void ensure_private_region() {
        if (private_slot_created_) return;
        if (private_plan_error_) throw Skip{*private_plan_error_};
        void* p = ::mmap(nullptr, GuestImage::kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw Skip{"cannot allocate the backend's guest memory"};
        private_mem_ = static_cast<std::uint8_t*>(p);
        image_.emplace(std::span(private_mem_, GuestImage::kSize), Gpa(private_gpa_));
        kvm_userspace_memory_region region{*private_slot_, 0, private_gpa_, GuestImage::kSize, reinterpret_cast<std::uint64_t>(private_mem_)};
        if (const long r = raw_ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region); r < 0)
            throw Skip{"the backend's own slot " + std::to_string(*private_slot_) + " at gpa " + hex(private_gpa_) + " was refused: " +
                       errno_json(r).get<std::string>()};
        private_slot_created_ = true;
        trace_.emit("ioctl", [&] {
            return "backend's own slot " + std::to_string(*private_slot_) + ": guest code, IDT and identity page tables at gpa " + hex(private_gpa_) +
                   " (1 MiB)";
        });
    }

    nlohmann::json dispatch(const Step& step) {
        const StepFields f(step, *scenario_);
        const std::string& op = step.op;
        if (op == "KVM_CHECK_EXTENSION") {
            const bool system = f.string_or("fd", "vm") == "system";
            return errno_json(raw_ioctl(system ? kvm_ : vm_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(f.cap("cap"))));
        }
        if (op == "KVM_SET_USER_MEMORY_REGION") return set_user_memory_region(f);
        if (op == "KVM_GET_DIRTY_LOG") return get_dirty_log(f);
        if (op == "KVM_CLEAR_DIRTY_LOG") return clear_dirty_log(f);
        if (op == "KVM_CREATE_VCPU") return create_vcpu(f);
        if (op == "KVM_ENABLE_CAP") {
            kvm_enable_cap cap{};
            cap.cap = f.cap("cap");
            cap.flags = f.u32_or("flags", 0);
            const auto args = f.args("args");
            std::copy(args.begin(), args.end(), cap.args);
            const long r = raw_ioctl(vm_, KVM_ENABLE_CAP, &cap);
            return errno_json(r < 0 ? r : 0);
        }
        if (op == "guest_read" || op == "guest_write") return guest_access(step, f);
        if (op == "host_read" || op == "host_write") return host_access(f, op == "host_write");
        if (op == "host_mmap") return errno_json(-layout_.mmap(f.u64("hva"), f.u64("size"), f.prot("prot"), f.string_list("flags")));
        if (op == "host_munmap" || op == "host_mprotect") {
            const std::uint64_t hva = f.hva("hva"), size = f.u64("size");
            require_in_span(hva, size);
            return errno_json(-(op == "host_munmap" ? layout_.munmap(hva, size) : layout_.mprotect(hva, size, f.prot("prot"))));
        }
        if (op == "host_poison") {
            const std::uint64_t hva = f.hva("hva");
            require_in_span(hva, 1);
            bool sigbus = false;
            const int e = layout_.madvise_hwpoison(hva, sigbus);
            if (e == EPERM) throw Skip{"madvise(MADV_HWPOISON) needs CAP_SYS_ADMIN, which this process lacks"};
            if (sigbus) return nlohmann::json{{"signal", "SIGBUS"}, {"hva", hva & ~(kPage - 1)}};
            return errno_json(-e);
        }
        if (op == "KVM_SET_SREGS") return set_sregs(step, f);
        if (op == "build_page_tables") return build_page_tables(step, f);
        if (op == "guest_fetch") throw Skip{"a fetch that succeeds would execute the scenario's memory as code"};
        if (op == "kvm_call") throw Skip{"kvm_call runs a kernel-internal function (" + f.string("fn") + "), which userspace cannot call"};
        if (is_vmm_op(op)) return vmm_->run(step, f);
        throw Skip{"op " + op + " is not supported by the kvm backend"};
    }

    // A host syscall may reach past the span only into space where this process has nothing.
    void require_in_span(std::uint64_t hva, std::uint64_t size) const {
        // Relocation moves only the span, so outside it a scenario address means what it says
        // only where nothing moved.
        const bool anchored = !layout_.relocated() || (layout_.in_span(hva, 0) && hva != layout_.span().second);
        if (!layout_.in_span(hva, size) && !(anchored && size <= (1ull << 40) && hva + size >= hva && layout_.only_span_or_unmapped(layout_.to_real(hva), size)))
            throw Skip{"the range " + hex(hva) + "+" + hex(size) + " leaves the scenario's host mappings; the backend does not touch the rest of its own process"};
    }

    nlohmann::json set_user_memory_region(const StepFields& f) {
        const std::uint32_t slot = f.u32("slot");
        const std::uint64_t uaddr = f.hva("userspace_addr");
        kvm_userspace_memory_region region{slot, f.memslot_flags("flags"), f.u64("guest_phys_addr"), f.u64("memory_size"), layout_.to_real(uaddr)};
        const long r = raw_ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region);
        trace_.emit("ioctl", [&] {
            return "KVM_SET_USER_MEMORY_REGION {slot " + hex(slot) + ", flags " + hex(region.flags) + ", gpa " + hex(region.guest_phys_addr) + ", size " +
                   hex(region.memory_size) + ", uaddr " + hex(region.userspace_addr) + "} = " + errno_json(r).dump();
        });
        if (r == 0) {
            if (region.memory_size == 0) slots_.erase(slot);
            else slots_[slot] = {region.guest_phys_addr, region.memory_size, uaddr, region.flags};
        }
        return errno_json(r);
    }

    nlohmann::json get_dirty_log(const StepFields& f) {
        const std::uint32_t slot = f.u32("slot");
        const auto it = slots_.find(slot);
        const std::uint64_t pages = it == slots_.end() ? 64 : it->second.size / kPage;
        std::vector<std::uint64_t> bitmap((pages + 63) / 64 + 1, 0);
        kvm_dirty_log log{};
        log.slot = slot;
        log.dirty_bitmap = bitmap.data();
        const long r = raw_ioctl(vm_, KVM_GET_DIRTY_LOG, &log);
        if (r < 0) return errno_json(r);
        nlohmann::json list = nlohmann::json::array();
        for (std::uint64_t p = 0; p < pages; ++p)
            if ((bitmap[p / 64] >> (p % 64)) & 1) list.push_back(p);
        return {{"dirty_pages", list}};
    }

    nlohmann::json clear_dirty_log(const StepFields& f) {
        const std::uint32_t num = f.u32("num_pages");
        std::vector<std::uint64_t> bitmap((static_cast<std::uint64_t>(num) + 63) / 64 + 1, 0);
        if (f.has("pages")) {
            for (std::uint64_t p : f.number_list("pages"))
                if (p < num) bitmap[p / 64] |= std::uint64_t{1} << (p % 64);
        } else {
            for (std::uint64_t p = 0; p < num; ++p) bitmap[p / 64] |= std::uint64_t{1} << (p % 64);
        }
        kvm_clear_dirty_log c{};
        c.slot = f.u32("slot");
        c.num_pages = num;
        c.first_page = f.u64("first_page");
        c.dirty_bitmap = bitmap.data();
        return errno_json(raw_ioctl(vm_, KVM_CLEAR_DIRTY_LOG, &c));
    }

    nlohmann::json create_vcpu(const StepFields& f) {
        const std::uint32_t id = f.u32("id");
        const long r = raw_ioctl(vm_, KVM_CREATE_VCPU, static_cast<unsigned long>(id));
        if (r < 0) return errno_json(r);
        vcpus_.emplace(id, std::make_unique<Vcpu>(Fd(static_cast<int>(r)), run_size_));
        return 0;
    }

    Vcpu& ready_vcpu(const Step& step, const StepFields& f) {
        const std::uint32_t id = f.u32("vcpu");
        const auto it = vcpus_.find(id);
        if (it == vcpus_.end()) throw ScenarioError(step.path + "/vcpu", "no vCPU " + std::to_string(id) + " (create it with KVM_CREATE_VCPU first)");
        if (!it->second->ready())
            if (auto err = it->second->configure(kvm_)) throw Skip{"vCPU setup failed: " + *err};
        return *it->second;
    }

    // The host bytes an access reaches through a slot must be the scenario's (or nothing at
    // all): never memory of this process. `gpa` unset: any slot (a gva access, not yet
    // translated).
    void require_safe_slots(std::optional<std::uint64_t> gpa, std::uint64_t size) {
        for (const auto& [slot, rec] : slots_) {
            std::uint64_t lo = rec.gpa, hi = rec.gpa + rec.size;
            if (gpa) lo = std::max(lo, *gpa), hi = std::min(hi, *gpa + size);
            if ((slot >> 16) != 0 || lo >= hi) continue;
            // In this process's addresses: the kernel got to_real(uaddr).
            if (!layout_.only_span_or_unmapped(layout_.to_real(rec.uaddr) + (lo - rec.gpa), hi - lo))
                throw Skip{"a guest access whose slot points outside the scenario's host mappings would reach the backend's own memory"};
        }
    }

    // The scenario's host address of a gpa in address space 0, as the VMM's mapping has it.
    std::optional<std::uint64_t> scenario_hva(std::uint64_t gpa) const {
        for (const auto& [slot, rec] : slots_)
            if ((slot >> 16) == 0 && gpa >= rec.gpa && gpa - rec.gpa < rec.size) return rec.uaddr + (gpa - rec.gpa);
        return std::nullopt;
    }

    bool guest_phys_rw(std::uint64_t gpa, void* v, unsigned size, bool write) {
        const auto hva = scenario_hva(gpa);
        return hva && layout_.in_span(*hva, size) && layout_.access(*hva, v, size, write) == 0;
    }

    nlohmann::json guest_access(const Step& step, const StepFields& f) {
        AccessRequest req;
        req.op = step.op == "guest_write" ? GuestOp::Write : GuestOp::Read;
        req.size = f.access_size("size");
        if (req.op == GuestOp::Write) req.data = f.data("data", req.size);
        if (f.has("mmio_reply")) req.mmio_reply = f.data("mmio_reply", req.size);
        Vcpu& vcpu = ready_vcpu(step, f);
        const ScenarioPagingState& paging = paging_[f.u32("vcpu")];
        const bool by_gva = f.has("gva");
        // A gva with paging off is a physical address, as the model reads it.
        if (!by_gva || !(paging.regs.cr0 & kCr0Pg)) return gpa_access(req, by_gva ? f.u64("gva") : f.u64("gpa"), vcpu);
        return gva_access(req, f, paging, vcpu);
    }

    // What a gpa access needs before its KVM_RUN; throws Skip where it cannot be reproduced.
    GuestContext prepare_gpa_access(AccessRequest& req, std::uint64_t gpa) {
        if (maxphyaddr_ < 64 && gpa + req.size > (std::uint64_t{1} << maxphyaddr_))
            throw Skip{"a gpa beyond the guest's MAXPHYADDR (" + std::to_string(maxphyaddr_) + " bits) cannot be reached by a paged access"};
        require_safe_slots(gpa, req.size);
        ensure_private_region();
        if (!image_->map_identity(Gpa(gpa), req.size)) throw Skip{"the backend's page-table pool is exhausted"};
        // The identity map's linear address is the gpa, sign-extended from bit 47 so gpas in the
        // top half of a 48-bit space stay canonical (one PML4 entry translates both forms).
        req.address = (gpa & (std::uint64_t{1} << 47)) ? gpa | 0xffff000000000000ull : gpa;
        return image_->identity_context(req.op, req.size);
    }

    nlohmann::json gpa_access(AccessRequest& req, std::uint64_t gpa, Vcpu& vcpu) {
        const GuestContext context = prepare_gpa_access(req, gpa);
        trace_.emit("KVM_RUN", [&] {
            return std::string(req.op == GuestOp::Write ? "mov to " : "mov from ") + "gpa " + hex(gpa) + " (" + std::to_string(req.size) +
                   " bytes) by the backend's guest code at CPL 0, 64-bit mode, identity-mapped";
        });
        return run_access(vcpu, context, req);
    }

    // Through the scenario's own 4-level tables: the backend's image is mapped for the access in
    // a PML4 slot no step uses, and that entry is put back as it was afterwards.
    nlohmann::json gva_access(AccessRequest& req, const StepFields& f, const ScenarioPagingState& paging, Vcpu& vcpu) {
        const std::uint64_t gva = f.u64("gva");
        if (!(paging.regs.efer & kEferLma) || (paging.regs.cr4 & kCr4La57))
            throw Skip{"the backend's guest code runs in 64-bit mode: only 4-level paging is reproduced"};
        if (paging.idt_base) throw Skip{"delivery through the scenario's IDT would run the scenario's handlers; the backend reports faults through its own IDT"};
        if (f.u32_or("cpl", 0) != 0) throw Skip{"user-mode (CPL 3) accesses need ring-3 code and a TSS, which the backend's guest does not have"};
        if (!alias_index_) throw Skip{"every PML4 slot is used by the scenario; none is left for the backend's code"};
        require_safe_slots(std::nullopt, 0);
        ensure_private_region();
        const std::uint64_t pml4e_gpa = (paging.regs.cr3 & 0x000ffffffffff000ull) + *alias_index_ * 8;
        std::uint64_t saved = 0;
        if (!guest_phys_rw(pml4e_gpa, &saved, 8, false))
            throw Skip{"the scenario's root page table is not in a slot the backend can write its code's PML4 entry into"};
        std::uint64_t alias = image_->make_alias(*alias_index_);
        (void)guest_phys_rw(pml4e_gpa, &alias, 8, true);
        req.address = gva;
        trace_.emit("KVM_RUN", [&] {
            return std::string(req.op == GuestOp::Write ? "mov to " : "mov from ") + "gva " + hex(gva) + " (" + std::to_string(req.size) +
                   " bytes) at CPL 0 on the scenario's CR0/CR3/CR4/EFER; the backend's code sits in PML4 slot " + std::to_string(*alias_index_);
        });
        nlohmann::json j = run_access(vcpu, image_->alias_context({paging.regs.cr0, paging.regs.cr3, paging.regs.cr4, paging.regs.efer}, req.op, req.size), req);
        std::uint64_t after = 0;
        (void)guest_phys_rw(pml4e_gpa, &after, 8, false);
        (void)guest_phys_rw(pml4e_gpa, &saved, 8, true);
        // A store that reached the root table (through another slot aliasing its host page) may
        // have rewritten the entry the backend's code ran from: the outcome is then the
        // backend's, not the kernel's.
        if ((after & ~kAccessedDirty) != (alias & ~kAccessedDirty))
            throw Skip{"the guest's access rewrote the PML4 entry the backend's code runs from"};
        return j;
    }

    nlohmann::json run_access(Vcpu& vcpu, const GuestContext& context, const AccessRequest& req) {
        const AccessOutcome out = vcpu.access(context, req, layout_);
        for (const VcpuEvent& e : out.result.events) trace_.emit("KVM_RUN", [&] { return "-> " + render(event_json(e)); });
        if (out.other_exit) trace_.emit("KVM_RUN", [&] { return "-> " + *out.other_exit; });
        if (out.result.completed) trace_.emit("KVM_RUN", [] { return std::string("-> KVM_EXIT_HLT after the access: it retired"); });
        // The scenario format has no outcome for a vCPU the kernel never hands back (seen under
        // NPT with guest page tables in a read-only slot: kvm_mmu_page_fault() unprotects and
        // retries a PFERR_NESTED_GUEST_PAGE fault for ever); it is skipped, and named.
        if (out.timed_out) throw Skip{"KVM_RUN did not return within 10 s: the kernel re-enters the guest for ever (no scenario outcome for that)"};
        nlohmann::json j = guest_access_json(out.result, req.op == GuestOp::Write, req.data);
        if (out.other_exit) j["exit"] = *out.other_exit;
        return j;
    }

    // KVM_SET_SREGS with the scenario's control registers; CS follows the mode (CS.L only in
    // long mode, as kvm_is_valid_sregs() requires).
    nlohmann::json set_sregs(const Step& step, const StepFields& f) {
        Vcpu& vcpu = ready_vcpu(step, f);
        ScenarioPagingState next = paging_[f.u32("vcpu")];
        next.regs.cr0 = f.u64_or("cr0", next.regs.cr0);
        next.regs.cr3 = f.u64_or("cr3", next.regs.cr3);
        next.regs.cr4 = f.u64_or("cr4", next.regs.cr4);
        next.regs.efer = f.u64_or("efer", next.regs.efer);
        if (f.has("idt_base")) next.idt_base = f.u64("idt_base");
        const long r = vcpu.set_control_registers(next.regs.cr0, next.regs.cr3, next.regs.cr4, next.regs.efer);
        trace_.emit("ioctl", [&] {
            return "KVM_SET_SREGS {cr0 " + hex(next.regs.cr0) + ", cr3 " + hex(next.regs.cr3) + ", cr4 " + hex(next.regs.cr4) + ", efer " +
                   hex(next.regs.efer) + "} = " + errno_json(r).dump();
        });
        if (r == 0) paging_[f.u32("vcpu")] = next;
        return errno_json(r);
    }

    // The page tables, written through the VMM's mapping of guest memory, as the model does.
    nlohmann::json build_page_tables(const Step& step, const StepFields& f) {
        const PtBuildSpec spec = parse_page_table_spec(step, f);
        PtMemory mem;
        mem.read = [&](Gpa gpa, std::uint64_t& v, unsigned size) {
            v = 0;
            return guest_phys_rw(gpa.value(), &v, size, false);
        };
        mem.write = [&](Gpa gpa, std::uint64_t v, unsigned size) { return guest_phys_rw(gpa.value(), &v, size, true); };
        std::uint64_t& used = pool_used_[spec.pool.value()];
        const PtBuildResult r = kvmsim::build_page_tables(spec, mem, used);
        if (r.error) throw ScenarioError(step.path, "build_page_tables: " + *r.error);
        used = r.pool_used;
        trace_.emit("build_page_tables", [&] { return std::to_string(r.writes.size()) + " entries written through the VMM's mapping"; });
        return 0;
    }

    // KVM_RUN for the VMM's loop (vmm_guest_read/write) on vCPU `id`: the backend's guest code
    // makes the access, and the VMM answers each MMIO exit before the next real KVM_RUN.
    std::optional<vmm::KvmRun> vmm_vcpu_run(std::uint32_t id) {
        const auto it = vcpus_.find(id);
        if (it == vcpus_.end()) return std::nullopt;
        Vcpu* vcpu = it->second.get();
        return [this, vcpu](const vmm::VcpuAccess& a, const vmm::MmioExitFn& on_mmio) {
            AccessRequest req;
            req.op = a.is_write ? GuestOp::Write : GuestOp::Read;
            req.size = a.size;
            req.data = a.data;
            if (!vcpu->ready())
                if (auto err = vcpu->configure(kvm_)) throw Skip{"vCPU setup failed: " + *err};
            const GuestContext context = prepare_gpa_access(req, a.gpa.value());
            const MmioAnswer answer = on_mmio;
            const AccessOutcome out = vcpu->access(context, req, layout_, &answer);
            // Without an event to end on, the VMM could not tell what stopped the access.
            const bool ends_on_mmio = !out.result.events.empty() && out.result.events.back().kind == VcpuEvent::Kind::Exit && out.result.events.back().exit == Exit::Mmio;
            if (out.other_exit && (out.result.events.empty() || ends_on_mmio))
                throw Skip{"KVM_RUN for the VMM: " + *out.other_exit};
            return out.result;
        };
    }

    // The guest physical ranges a VMM step claims, kept free of the backend's own slot: banks,
    // the flash, MMIO devices, and the pages an access touches.
    static void reserve_vmm_range(const Step& st, const StepFields& f, std::vector<Interval>& used) {
        const auto add = [&](std::uint64_t gpa, std::uint64_t size) { used.push_back({gpa, gpa + size < gpa ? ~std::uint64_t{0} : gpa + size}); };
        if (st.op == "vmm_register_mem" || st.op == "vmm_scratch_device") add(f.u64("gpa"), f.u64("size"));
        if (st.op == "vmm_cfi_flash") add(f.u64_or("base", vmm::KVM_FLASH_MMIO_BASE), vmm::CfiFlash::flash_size(f.u64("file_size")));
        if (st.op == "vmm_guest_read" || st.op == "vmm_guest_write") add(f.u64("gpa") & ~(kPage - 1), 2 * kPage);
    }

    nlohmann::json host_access(const StepFields& f, bool write) {
        const std::uint64_t hva = f.hva("hva");
        const unsigned size = f.access_size("size");
        require_in_span(hva, size);
        std::uint64_t v = write ? f.data("data", size) : 0;
        if (const int e = layout_.access(hva, &v, size, write)) return {{"errno", errno_json(-e)}};
        if (write) return 0;
        return {{"data", v}};
    }

    HostKvm host_;
    Fd kvm_;
    Fd vm_;
    const Scenario* scenario_ = nullptr;
    std::optional<std::string> skip_all_;
    std::optional<std::string> diverged_;
    std::vector<std::string> notes_;
    HostLayout layout_;
    Trace trace_;
    std::size_t run_size_ = 0;
    unsigned maxphyaddr_ = 36;
    std::map<std::uint32_t, std::unique_ptr<Vcpu>> vcpus_;
    std::map<std::uint32_t, ScenarioPagingState> paging_;  // by vCPU id, as KVM_SET_SREGS steps set it
    std::map<std::uint64_t, std::uint64_t> pool_used_;     // build_page_tables pools, by gpa
    std::optional<unsigned> alias_index_;                   // PML4 slot for the backend's code
    SlotTable slots_;
    std::optional<std::uint32_t> private_slot_;
    std::uint64_t private_gpa_ = 0;
    std::optional<std::string> private_plan_error_;
    bool private_slot_created_ = false;
    std::uint8_t* private_mem_ = nullptr;
    std::optional<GuestImage> image_;
    std::unique_ptr<VmmSteps> vmm_;  // last: it refers to vm_, layout_ and slots_
};

}  // namespace

std::unique_ptr<Backend> make_kvm_backend() { return std::make_unique<KvmBackend>(); }

}  // namespace kvmsim::sim
