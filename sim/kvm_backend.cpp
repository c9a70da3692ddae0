// Runs scenario steps on the real /dev/kvm: ioctls are the real ioctls, host mappings real
// mmaps, guest accesses real loads and stores by the backend's own guest code. This file is the
// arch-neutral part; the guest code of the architecture kvmsim is built for is in sim/kvm/x86/
// or sim/kvm/arm64/, behind kvm/arch_guest.h.
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/kvm.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "backend.h"
#include "fields.h"
#include "kvm/arch_guest.h"
#include "kvm/fd.h"
#include "kvm/guest_memory.h"
#include "kvm/host_layout.h"
#include "kvm/host_platform.h"
#include "kvm/slot_metadata_budget.h"
#include "kvm/uffd.h"
#include "host_steps.h"
#include "kvm/vmm_host.h"
#include "model/vmm/cfi_flash.h"
#include "runner.h"
#include "vmm_steps.h"

namespace kvmsim::sim {
namespace {

using namespace kvmhost;

constexpr std::uint64_t kPage = 4096;

struct Interval {
    std::uint64_t lo, hi;  // [lo, hi)
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
        const long fd = raw_ioctl(kvm_, KVM_CREATE_VM, arch_vm_type(scenario));
        if (fd < 0) {
            skip_all_ = "this host refuses VM type \"" + scenario.vm_type + "\" (KVM_CREATE_VM: " + errno_json(fd).get<std::string>() + ")";
            return;
        }
        vm_ = Fd(static_cast<int>(fd));
        run_size_ = static_cast<std::size_t>(std::max(0L, raw_ioctl(kvm_, KVM_GET_VCPU_MMAP_SIZE, 0)));
        phys_bits_ = arch_phys_bits(kvm_, scenario);
        if (auto err = layout_.place(scenario)) throw ScenarioError("/host", "the kvm backend cannot place the host mappings: " + *err);
        if (layout_.relocated()) {
            trace_.emit("mmap", [&] {
                return "the scenario's hvas are taken in this process: mappings placed at hva + " + hex(static_cast<std::uint64_t>(layout_.delta()));
            });
            notes_.push_back("host mappings relocated: every scenario hva in [" + hex(layout_.span().first) + ", " + hex(layout_.span().second) +
                             ") is at hva + " + hex(static_cast<std::uint64_t>(layout_.delta())) + " in this process");
        }
        plan_private_region(scenario);
        ctx_.emplace(VmContext{kvm_, vm_, layout_, slots_, trace_, scenario, run_size_, [this] { return ensure_private_region(); }});
        arch_ = make_arch_guest(*ctx_);
        vmm_ = std::make_unique<VmmSteps>(std::make_unique<KvmVmmHost>(vm_, layout_, slots_, [this](std::uint32_t id) { return arch_->vmm_vcpu_run(id); }));
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
        if (auto why = arch_cannot_reproduce(s)) return why;
        if (c.profile != "mainline") return "kernel profile " + c.profile + " exists only in the model; this host runs Linux " + host_.kernel;
        if (!c.apply.empty() || !c.revert.empty()) return "patch toggles cannot be applied to the running kernel";
        // A scenario pinned to another host's configuration would fail here for that reason alone.
        if (auto why = pin_conflict(s.host_pins, host_.description)) return *why;
        // A CPU feature the scenario needs and this machine's vCPUs lack (read from their ID registers).
        if (auto why = unmet_requirement(s.required_features, host_.description)) return *why;
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
        // The handlers first: a registered range must not outlive the thread that answers it.
        uffds_.clear();
        vmm_.reset();
        arch_.reset();
        ctx_.reset();
        private_slot_created_ = false;
        if (private_mem_) ::munmap(private_mem_, kGuestRegionSlotSize);
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
        const std::uint64_t limit = phys_bits_ >= 64 ? ~std::uint64_t{0} : std::uint64_t{1} << phys_bits_;
        for (std::uint64_t start : {std::uint64_t{1} << 30, std::uint64_t{2} << 20}) {
            std::uint64_t c = start;
            for (const Interval& iv : used)
                if (iv.lo < c + kGuestRegionWindow && iv.hi > c) c = (iv.hi + (2u << 20) - 1) & ~std::uint64_t{(2u << 20) - 1};
            if (c >= start && c + kGuestRegionWindow <= limit) {
                private_gpa_ = c;
                return;
            }
        }
        private_plan_error_ = "the scenario's slots and accesses leave no free 1 MiB of guest physical space for the backend's guest code";
    }

    // Creates the backend's slot the first time a guest access needs it.
    GuestRegion ensure_private_region() {
        if (private_slot_created_) return {private_mem_, private_gpa_, *private_slot_};
        if (private_plan_error_) throw Skip{*private_plan_error_};
        if (!private_mem_) {
            void* p = ::mmap(nullptr, kGuestRegionSlotSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) throw Skip{"cannot allocate the backend's guest memory"};
            private_mem_ = static_cast<std::uint8_t*>(p);
        }
        kvm_userspace_memory_region region{*private_slot_, 0, private_gpa_, kGuestRegionSlotSize, reinterpret_cast<std::uint64_t>(private_mem_)};
        if (const long r = raw_ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region); r < 0)
            throw Skip{"the backend's own slot " + std::to_string(*private_slot_) + " at gpa " + hex(private_gpa_) + " was refused: " +
                       errno_json(r).get<std::string>()};
        private_slot_created_ = true;
        trace_.emit("ioctl", [&] {
            return "backend's own slot " + std::to_string(*private_slot_) + ": the backend's guest code, tables and stack at gpa " + hex(private_gpa_) +
                   " (1 MiB)";
        });
        return {private_mem_, private_gpa_, *private_slot_};
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
        if (op == "KVM_ENABLE_CAP") {
            kvm_enable_cap cap{};
            cap.cap = f.cap("cap");
            cap.flags = f.enable_cap_flags("flags");
            const auto args = f.args("args");
            std::copy(args.begin(), args.end(), cap.args);
            const long r = raw_ioctl(vm_, KVM_ENABLE_CAP, &cap);
            return errno_json(r < 0 ? r : 0);
        }
        if (auto r = arch_->dispatch(step, f)) return *r;
        if (op == "host_read" || op == "host_write") return host_access(f, op == "host_write");
        if (op == "host_mmap") return errno_json(-layout_.mmap(f.u64("hva"), f.u64("size"), f.prot("prot"), f.string_list("flags"), f.string("name")));
        if (is_hole_op(op)) return hole_step(op, f);
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

    // host_madvise, host_fallocate, host_uffd_register, host_uffd_faults (sim/host_steps.h).
    nlohmann::json hole_step(const std::string& op, const StepFields& f) {
        if (op == "host_madvise") {
            const std::uint64_t hva = f.hva("hva"), size = f.u64("size");
            require_in_span(hva, size);
            return errno_json(-layout_.madvise_dontneed(hva, size));
        }
        if (op == "host_fallocate") {
            const FallocMode m = falloc_mode(f);
            const int mode = (m.punch_hole ? FALLOC_FL_PUNCH_HOLE : 0) | (m.keep_size ? FALLOC_FL_KEEP_SIZE : 0);
            return errno_json(-layout_.fallocate(f.string("mapping"), mode, f.u64("offset"), f.u64("len")));
        }
        const std::uint64_t hva = f.hva("hva");
        if (op == "host_uffd_faults") {
            const auto it = uffds_.find(hva);
            if (it == uffds_.end()) throw ScenarioError(f.path("hva"), "no host_uffd_register step registered a range starting at " + hex(hva));
            if (const std::uint64_t bad = it->second->failures())
                throw Skip{"the userfaultfd handler failed to answer " + std::to_string(bad) + " fault(s); the count would not be the kernel's"};
            return it->second->faults();
        }
        const std::uint64_t size = f.u64("size");
        require_in_span(hva, size);
        const UffdServe serve = uffd_serve(f);
        UffdAnswer answer;
        answer.zeropage = serve.how == UffdServe::How::ZeroPage;
        answer.whole_range = serve.whole_range;
        if (!answer.zeropage) answer.source = uffd_source(hva, size, serve);
        auto handler = std::make_unique<UffdHandler>();
        std::optional<std::string> skip;
        const int e = handler->start(layout_.to_real(hva), size, std::move(answer), skip);
        if (skip) throw Skip{*skip};
        if (e == 0) uffds_[hva] = std::move(handler);
        trace_.emit("userfaultfd", [&] { return "UFFDIO_REGISTER(MODE_MISSING) " + hex(hva) + "+" + hex(size) + " = " + errno_json(-e).dump(); });
        return errno_json(-e);
    }

    // What UFFDIO_COPY copies from: the range as it is now ("snapshot": only the pages present,
    // found with mincore() so that looking does not fault any page in; the rest zeros), or the
    // pattern over one page, or over the whole range when each fault copies all of it.
    std::vector<std::uint8_t> uffd_source(std::uint64_t hva, std::uint64_t size, const UffdServe& serve) {
        if (!serve.snapshot) {
            std::vector<std::uint8_t> buf(serve.whole_range ? size : kPage);
            for (std::size_t off = 0; off + 8 <= buf.size(); off += 8) std::memcpy(buf.data() + off, &serve.pattern, 8);
            return buf;
        }
        std::vector<std::uint8_t> buf(size, 0);  // size is bounded at validation (kMaxUffdRangeCopy)
        std::vector<unsigned char> resident((size + kPage - 1) / kPage, 0);
        if (::mincore(reinterpret_cast<void*>(layout_.to_real(hva)), size, resident.data()) != 0) resident.assign(resident.size(), 0);
        for (std::size_t i = 0; i < resident.size(); ++i)
            if (resident[i] & 1) (void)layout_.access(hva + i * kPage, buf.data() + i * kPage, kPage, false);
        return buf;
    }

    nlohmann::json set_user_memory_region(const StepFields& f) {
        const std::uint32_t slot = f.u32("slot");
        const std::uint64_t uaddr = f.hva("userspace_addr");
        kvm_userspace_memory_region region{slot, f.memslot_flags("flags"), f.u64("guest_phys_addr"), f.u64("memory_size"), layout_.to_real(uaddr)};
        if (auto why = slot_metadata_over_budget(region.memory_size / kPage, region.flags)) throw Skip{*why};
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
    unsigned phys_bits_ = 36;
    SlotTable slots_;
    std::optional<std::uint32_t> private_slot_;
    std::uint64_t private_gpa_ = 0;
    std::optional<std::string> private_plan_error_;
    bool private_slot_created_ = false;
    std::uint8_t* private_mem_ = nullptr;
    std::optional<VmContext> ctx_;
    std::unique_ptr<ArchGuest> arch_;  // refers to ctx_
    std::unique_ptr<VmmSteps> vmm_;    // it refers to vm_, layout_, slots_ and arch_
    // By the registered range's scenario hva. Destroyed first: the handlers answer faults on
    // mappings of layout_ and accesses by arch_'s vCPUs.
    std::map<std::uint64_t, std::unique_ptr<UffdHandler>> uffds_;
};

}  // namespace

std::unique_ptr<Backend> make_kvm_backend() { return std::make_unique<KvmBackend>(); }

}  // namespace kvmsim::sim
