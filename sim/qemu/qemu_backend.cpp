#include "qemu_backend.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "machine.h"
#include "sim/runner.h"
#include "wire.h"

namespace kvmsim::sim::qemu {
namespace {

namespace fs = std::filesystem;

// At most this many machines per command: a kernel that keeps dying is reported, not rebooted forever.
constexpr int kMaxBoots = 3;

std::string arch_name(GuestArch a) { return a == GuestArch::X86_64 ? "x86_64" : "arm64"; }

// The static kvmsim for the guest: --guest-binary, $KVMSIM_GUEST_<ARCH>, or the build's own.
std::string default_guest_binary(GuestArch a) {
    const char* env = std::getenv(a == GuestArch::X86_64 ? "KVMSIM_GUEST_X86_64" : "KVMSIM_GUEST_ARM64");
    if (env && *env) return env;
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (a == GuestArch::X86_64) return (self.parent_path() / "kvmsim-static").string();
    return std::string(KVMSIM_SOURCE_DIR) + "/build-aarch64/tools/kvmsim";
}

bool in_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::string dirs = path ? path : "/usr/bin:/bin";
    for (std::size_t start = 0; start <= dirs.size();) {
        const std::size_t end = std::min(dirs.find(':', start), dirs.size());
        if (::access((dirs.substr(start, end - start) + "/" + program).c_str(), X_OK) == 0) return true;
        start = end + 1;
    }
    return false;
}

class QemuBackendImpl final : public QemuBackend {
public:
    explicit QemuBackendImpl(QemuOptions o) : options_(std::move(o)) {}

    [[nodiscard]] std::string name() const override { return options_.arch == GuestArch::X86_64 ? "qemu-x86" : "qemu-arm64"; }
    [[nodiscard]] std::vector<std::string> notes() const override { return notes_; }
    [[nodiscard]] std::string kernel_release() const override { return release_; }
    [[nodiscard]] std::string platform() const override { return platform_; }
    [[nodiscard]] std::string profile() const override { return profile_; }
    [[nodiscard]] double boot_seconds() const override { return machine_ ? machine_->boot_seconds() : 0; }
    [[nodiscard]] std::optional<HostDescription> host_description() const override { return host_; }

    [[nodiscard]] std::optional<std::string> missing() const override {
        const char* qemu = options_.arch == GuestArch::X86_64 ? "qemu-system-x86_64" : "qemu-system-aarch64";
        if (!in_path(qemu)) return std::string(qemu) + " is not installed (tools/setup-deps installs it)";
        std::string error;
        if (options_.kernel_image) {
            std::error_code ec;
            if (!fs::is_regular_file(*options_.kernel_image, ec)) return "no kernel image " + *options_.kernel_image;
        } else if (!cached_kernel(options_.arch, options_.series, error)) {
            return error;
        }
        const std::string guest = options_.guest_binary.value_or(default_guest_binary(options_.arch));
        std::error_code ec;
        if (!fs::is_regular_file(guest, ec)) return "no static kvmsim for the " + arch_name(options_.arch) + " guest at " + guest;
        if (!cached_busybox(options_.arch, error)) return error;
        return std::nullopt;
    }

    bool boot(std::string& why_not) override {
        if (machine_ && machine_->alive()) return true;
        if (boot_error_) return why_not = *boot_error_, false;
        if (boots_ >= kMaxBoots) return why_not = "the QEMU guest died " + std::to_string(boots_) + " times; no more boots", false;
        ++boots_;
        std::string error;
        MachineSpec spec;
        spec.arch = options_.arch;
        if (options_.kernel_image) {
            spec.kernel = {*options_.kernel_image, options_.modules, *options_.kernel_image};
        } else if (auto k = cached_kernel(options_.arch, options_.series, error)) {
            spec.kernel = *k;
            if (options_.modules) spec.kernel.modules = options_.modules;
        } else {
            return fail(error, why_not);
        }
        spec.guest_kvmsim = options_.guest_binary.value_or(default_guest_binary(options_.arch));
        std::error_code ec;
        if (!fs::is_regular_file(spec.guest_kvmsim, ec))
            return fail("no static kvmsim for the " + arch_name(options_.arch) + " guest at " + spec.guest_kvmsim +
                            (options_.arch == GuestArch::X86_64 ? " (the build makes tools/kvmsim-static)" : " (build it with cmake/aarch64-linux-gnu.cmake and -DKVMSIM_STATIC=ON into build-aarch64)"),
                        why_not);
        auto busybox = cached_busybox(options_.arch, error);
        if (!busybox) return fail(error, why_not);
        spec.busybox = *busybox;
        machine_ = Machine::boot(spec, error);
        if (!machine_) return fail("QEMU could not boot " + spec.kernel.label + ": " + error, why_not);
        const auto& h = machine_->hello();
        release_ = h.value("kernel", "");
        if (!h.value("usable", false)) return fail("the guest kernel " + release_ + " has no usable /dev/kvm: " + h.value("why_not", ""), why_not);
        platform_ = options_.arch == GuestArch::X86_64 ? h.value("platform", "svm") : "arm64";
        host_.reset();
        if (h.contains("host")) {
            try {
                host_ = host_from_json(h["host"]);
            } catch (const nlohmann::json::exception& e) {
                return fail(std::string("kvmsim serve sent a malformed host description: ") + e.what(), why_not);
            }
        }
        if (options_.profile) profile_ = *options_.profile;
        else if (auto p = profile_for_release(release_)) profile_ = *p;
        else return fail("the booted kernel " + release_ + " stands for no known profile; name one with --kernel", why_not);
        return true;
    }

    void start(const Scenario& s, const RunConfig& config) override {
        notes_.clear();
        skip_all_.reset();
        dead_.reset();
        std::string why;
        if (!boot(why)) {
            skip_all_ = why;
            return;
        }
        if (s.arch != arch_name(options_.arch)) {
            skip_all_ = "an " + s.arch + " scenario; " + name() + " boots an " + arch_name(options_.arch) + " machine";
            return;
        }
        if (config.profile != profile_) {
            skip_all_ = "kernel profile " + config.profile + "; the booted kernel is Linux " + release_ + " (profile " + profile_ + ")";
            return;
        }
        RunConfig guest = config;
        guest.profile = "mainline";  // the guest's kvm backend runs whatever kernel it is on
        std::string error;
        const auto reply = machine_->request({{"op", "start"}, {"file", s.file}, {"scenario", s.doc}, {"config", wire::to_json(guest)}},
                                             std::chrono::seconds(300), error);
        if (!reply) throw std::logic_error("the QEMU guest failed while setting up the scenario: " + error);
        throw_guest_errors(*reply);
        if (reply->contains("internal_error")) throw std::logic_error("kvmsim serve: " + (*reply)["internal_error"].get<std::string>());
        for (const auto& n : reply->value("notes", nlohmann::json::array())) notes_.push_back(n.get<std::string>());
    }

    StepResult run(const Step& step) override {
        StepResult r;
        if (skip_all_ || dead_) {
            r.skipped = true;
            r.skip_reason = skip_all_ ? *skip_all_ : *dead_;
            return r;
        }
        std::string error;
        const auto reply = machine_->request({{"op", "run"}, {"step", step.index}}, std::chrono::seconds(120), error);
        if (!reply) {
            // Shown as this step's outcome, so it counts as a disagreement; what follows is skipped.
            dead_ = "follows a step during which the QEMU guest died";
            r.actual = {{"qemu_error", error.substr(0, 600)}};
            return r;
        }
        throw_guest_errors(*reply);
        if (reply->contains("internal_error") || !reply->contains("actual")) {
            r.actual = {{"qemu_error", "kvmsim serve: " + reply->value("internal_error", reply->dump().substr(0, 300))}};
            return r;
        }
        try {
            return wire::step_result(*reply);
        } catch (const nlohmann::json::exception& e) {
            r.actual = {{"qemu_error", std::string("kvmsim serve answered in an unknown shape: ") + e.what()}};
            return r;
        }
    }

private:
    // What the guest's backend threw is thrown here, as if it ran in this process.
    static void throw_guest_errors(const nlohmann::json& reply) {
        if (reply.contains("scenario_error")) {
            const std::string path = reply.value("path", ""), what = reply.value("scenario_error", "");
            const std::string prefix = (path.empty() ? "(document)" : path) + ": ";
            throw ScenarioError(path, what.starts_with(prefix) ? what.substr(prefix.size()) : what);
        }
        if (reply.contains("logic_error")) throw std::logic_error(reply.value("logic_error", ""));
    }

    bool fail(const std::string& error, std::string& why_not) {
        boot_error_ = error;
        why_not = error;
        machine_.reset();
        return false;
    }

    QemuOptions options_;
    std::unique_ptr<Machine> machine_;
    int boots_ = 0;
    std::optional<std::string> boot_error_;
    std::string release_, platform_, profile_;
    std::optional<HostDescription> host_;
    std::vector<std::string> notes_;
    std::optional<std::string> skip_all_, dead_;
};

}  // namespace

std::unique_ptr<QemuBackend> make_qemu_backend(const QemuOptions& options) { return std::make_unique<QemuBackendImpl>(options); }

std::optional<std::string> profile_for_release(const std::string& release) {
    unsigned major = 0, minor = 0;
    if (std::sscanf(release.c_str(), "%u.%u", &major, &minor) != 2) return std::nullopt;
    if (major == 6 && minor == 1) return "v6.1";
    if (major == 6 && minor == 12) return "v6.12";
    if (major > 6 || (major == 6 && minor >= 18)) return "mainline";
    return std::nullopt;
}

std::optional<GuestArch> qemu_backend_arch(const std::string& name) {
    if (name == "qemu-x86") return GuestArch::X86_64;
    if (name == "qemu-arm64") return GuestArch::Arm64;
    return std::nullopt;
}

}  // namespace kvmsim::sim::qemu
