// kvmsim diff and kvmsim fuzz: the model against the real kernel of this machine.
#include <cstdio>
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <iostream>

#include "cli.h"
#include "qemu_choice.h"
#include "results.h"
#include "model/profile/patch.h"
#include "model/profile/profile.h"
#include "sim/diff.h"
#include "sim/diff_toggles.h"
#include "sim/kvm/host_platform.h"
#include "sim/random_scenario.h"

namespace po = boost::program_options;
using namespace kvmsim;
using namespace kvmsim::sim;

namespace kvmsim::cli {
namespace {

// The real-kernel side of diff and fuzz: this machine's /dev/kvm or a QEMU-booted kernel.
struct KernelSide {
    std::unique_ptr<Backend> backend;
    std::string platform = "pvm";           // the model runs on it
    std::optional<std::string> profile;     // and as this profile (qemu: the booted kernel's)
    std::string banner;                     // the report's first line
    std::optional<int> exit_now;            // unavailable, with --unavailable-exit
    std::optional<HostDescription> host;    // the machine's host description, where probed (kvm)
};

// One line of a --known list: a disagreement that is understood and still open.
struct KnownDisagreement {
    std::string file;  // matched against the end of the scenario's path
    std::size_t step = 0;
    std::string why;
    mutable bool seen = false;
};

std::vector<KnownDisagreement> read_known(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw po::error("cannot read the --known list " + path);
    std::vector<KnownDisagreement> out;
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) {
        ++n;
        if (line.empty() || line[0] == '#') continue;
        KnownDisagreement k;
        const auto hash = line.find('#');
        if (hash != std::string::npos) k.why = line.substr(line.find_first_not_of(" #", hash) == std::string::npos ? line.size() : line.find_first_not_of(" #", hash));
        std::istringstream fields(line.substr(0, hash));
        if (!(fields >> k.file >> k.step)) throw po::error(path + ":" + std::to_string(n) + ": expected \"FOLDER/FILE.json STEP  # why\"");
        out.push_back(k);
    }
    return out;
}

const KnownDisagreement* find_known(const std::vector<KnownDisagreement>& known, const std::string& file, const Step* step) {
    if (!step) return nullptr;
    for (const auto& k : known)
        if (k.step == step->index && (file == k.file || file.ends_with("/" + k.file))) return &k;
    return nullptr;
}

KernelSide kernel_side(const std::string& cmd, const std::string& backend_name, const QemuChoice& choice, const std::optional<std::string>& profile, int unavailable_exit) {
    KernelSide k;
    if (auto q = choice.make(backend_name, profile)) {
        std::string why;
        const bool x86 = backend_name == "qemu-x86";
        if (auto m = q->missing(); m && unavailable_exit >= 0) {
            std::cout << "kvmsim " << cmd << ": skipped: " << *m << "\n";
            k.exit_now = unavailable_exit;
            return k;
        }
        if (!q->boot(why)) {
            // Everything was there, so a machine that does not come up is a failure, not a skip.
            k.banner = "kernel: unavailable (" + why + "); every step will be skipped";
            if (unavailable_exit >= 0) {
                std::cout << "kvmsim " << cmd << ": the QEMU machine failed: " << why << "\n";
                k.exit_now = kExitFailed;
            }
            k.platform = "svm";
            k.profile = profile.value_or(choice.series == "6.1" ? "v6.1" : "v6.12");
        } else {
            k.platform = x86 ? q->platform() : "svm";
            k.profile = q->profile();
            // arm64: the guest's vCPU features (a scenario's "requires" and the model's CPU) and
            // the THP mode (stage-2 blocks over transparent huge pages).
            k.host = q->host_description();
            char secs[32];
            std::snprintf(secs, sizeof secs, "%.1f", q->boot_seconds());
            k.banner = "kernel: Linux " + q->kernel_release() + " under QEMU (" + backend_name + ", booted in " + secs + " s); model: " + *k.profile +
                       (x86 ? " on platform " + k.platform : std::string(" (arm64)")) + (x86 && k.host ? ", host " + describe(*k.host) : std::string()) +
                       (!x86 && k.host ? ", CPU " + describe_cpu_features(*k.host) : std::string());
        }
        k.backend = std::move(q);
        return k;
    }
    if (backend_name != "kvm") throw po::error("unknown backend \"" + backend_name + "\" (kvm, qemu-x86 or qemu-arm64)");
    const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
    if (!host.usable && unavailable_exit >= 0) {
        std::cout << "kvmsim " << cmd << ": skipped: " << host.why_not << "\n";
        k.exit_now = unavailable_exit;
        return k;
    }
    k.platform = host.usable ? host.platform : "pvm";
    if (host.usable) k.host = host.description;
    k.banner = host.usable ? "kernel: Linux " + host.kernel + " via /dev/kvm; model: mainline on platform " + k.platform + " (" + host.platform_why + "), host " +
                                 describe(host.description)
                           : "kernel: unavailable (" + host.why_not + "); every step will be skipped";
    k.backend = make_kvm_backend();
    return k;
}

}  // namespace

int cmd_diff(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim diff [--backend kvm|qemu-x86|qemu-arm64] [--format F] [--apply X] [--revert X] [--known LIST] PATH...\n"
                                             "Runs every scenario on the model and on a real kernel (this machine's /dev/kvm, or the KVM of a\n"
                                             "QEMU-booted kernel) and reports each step where they disagree. The model runs on the platform that\n"
                                             "kernel has (detected), whatever the scenario names; with a qemu backend also as the profile the\n"
                                             "booted kernel stands for (v6.1, v6.12; --kernel overrides).\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::vector<std::string> paths;
    int unavailable_exit = -1;
    std::vector<std::string> apply, revert;
    std::string format;
    std::string backend_name = "kvm";
    std::string kernel_profile_arg, known_file;
    desc.add_options()("help,h", "this help")(
        "apply", po::value(&apply)->composing(), "the running kernel carries this patch: the model side applies the toggle (repeatable)")(
        "revert", po::value(&revert)->composing(), "the running kernel lacks this patch: the model side reverts the toggle (repeatable)")(
        "unavailable-exit", po::value(&unavailable_exit), "exit with this code when the real kernel cannot be used (CTest marks 77 as skipped); default: run, every step skipped")(
        "backend", po::value(&backend_name), "kvm (default): this machine's /dev/kvm; qemu-x86 or qemu-arm64: a QEMU-booted kernel")(
        "kernel", po::value(&kernel_profile_arg), "with a qemu backend: the profile the booted kernel stands for (default: from its version)")(
        "known", po::value(&known_file), "a list of open disagreements (lines \"FOLDER/FILE.json STEP  # why\"): these are reported as known and "
                                          "do not fail the run; one that no longer occurs does (remove it from the list)");
    add_format_options(desc, format);
    QemuChoice qemu_choice;
    qemu_choice.add_options(desc);
    const po::variables_map vm = parse_command(desc, args, &paths);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    const Format fmt = format_of(vm, format);
    if (paths.empty()) throw po::error("no scenario given");
    check_patch_names(apply);
    check_patch_names(revert);
    const std::optional<std::string> kernel_profile = kernel_profile_arg.empty() ? std::nullopt : std::optional(kernel_profile_arg);
    if (kernel_profile) check_profile_name(*kernel_profile);
    std::vector<KnownDisagreement> known;
    if (!known_file.empty()) known = read_known(known_file);
    KernelSide side = kernel_side("diff", backend_name, qemu_choice, kernel_profile, unavailable_exit);
    if (side.exit_now) return *side.exit_now;
    const std::string& platform = side.platform;
    Backend& kernel = *side.backend;
    Report report;
    report.command = "diff";
    report.list_passes = false;
    report.extra = {{"platform", platform}, {"backend", kernel.name()}};
    if (side.profile) report.extra["profile"] = *side.profile;
    report.header.push_back(side.banner);
    auto model = apply.empty() && revert.empty() ? make_model_backend() : make_toggled_model_backend(apply, revert);
    if (!apply.empty() || !revert.empty()) report.header.push_back("model side: " + model->name());
    DiffReport total;
    std::size_t known_seen = 0;
    for_each_scenario(paths, report, [&](const std::string& file, const Scenario& s) {
        DiffReport d = diff_scenario(s, *model, kernel, platform, side.host, side.profile);
        name_toggles(s, d, apply, revert, platform, side.host, side.profile);
        // A listed disagreement is reported as known and does not fail the file.
        std::vector<std::string> known_notes;
        std::erase_if(d.disagreements, [&](const StepDisagreement& x) {
            const KnownDisagreement* k = find_known(known, file, x.step);
            if (!k) return false;
            k->seen = true;
            ++known_seen;
            known_notes.push_back("known: [" + x.profile + "] step " + std::to_string(x.step->index) + " (" + x.step->op + "): model " + render(x.model) +
                                  " | kernel " + render(x.kernel) + "  # " + k->why);
            return true;
        });
        total.add(d);
        FileResult f = diff_result(file, s.name, d, kernel.name());
        f.notes.insert(f.notes.end(), known_notes.begin(), known_notes.end());
        return f;
    });
    // A listed disagreement that no longer occurs fails the run: the list must shrink with the fixes.
    for (const auto& k : known) {
        if (k.seen) continue;
        FileResult f;
        f.file = k.file;
        f.name = "known disagreement no longer seen";
        CaseResult c;
        c.name = "step " + std::to_string(k.step);
        c.status = Status::Fail;
        c.checked = true;
        c.reason = "no longer disagrees: remove it from " + known_file;
        f.cases.push_back(c);
        report.files.push_back(f);
    }
    report.footer.push_back(std::to_string(total.compared) + " steps compared, " + std::to_string(total.disagreements.size()) + " disagree" +
                            (known.empty() ? std::string() : " (and " + std::to_string(known_seen) + " known, listed in " + known_file + ")") + ", " +
                            std::to_string(total.skipped) + " skipped");
    for (const auto& [why, n] : total.skip_reasons) report.footer.push_back("  skipped " + std::to_string(n) + ": " + why);
    write_report(std::cout, report, fmt);
    return exit_code(report);
}

namespace {

// The kernel's outcomes, written into the scenario as its expectations.
nlohmann::json with_kernel_expectations(nlohmann::json doc, Backend& kernel, const std::string& platform, const std::optional<std::string>& profile) {
    if (profile) {
        doc.erase("kernels");
        doc["kernel"] = *profile;
    }
    const Scenario s = parse_scenario(doc, "(shrunk)");
    RunOptions o;
    o.platform = platform;
    o.kernel = profile;
    const auto runs = run_scenario(s, kernel, o);
    if (runs.empty()) return doc;
    for (const auto& st : runs.front().steps) {
        if (st.skipped || st.actual.is_null()) continue;
        // An outcome the scenario format has no words for (a KVM_RUN that never returned, a
        // QEMU guest that died) stays out of the expectations, so the file remains a scenario.
        nlohmann::json trial = doc;
        trial["steps"][st.step->index]["expect"] = st.actual;
        try {
            parse_scenario(trial, "(shrunk)");
            doc = std::move(trial);
        } catch (const ScenarioError&) {
        }
    }
    return doc;
}

}  // namespace

int cmd_fuzz(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim fuzz [--seed S] [--count N] [--steps M] [--out DIR] [--against kvm|model] [--backend kvm|qemu-x86|qemu-arm64]\n"
                                             "           [--apply X] [--revert X] [--format F]\n"
                                             "Runs random scenarios on the model and on a real kernel (or on the model with patch toggles changed) and\n"
                                             "shrinks every disagreement to a minimal scenario written to DIR, with the other side's outcomes\n"
                                             "as its expectations.\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::string out_dir = ".", against = "kvm", format;
    std::vector<std::string> apply, revert;
    int unavailable_exit = -1;
    std::string backend_name = "kvm";
    std::string kernel_profile_arg;
    QemuChoice qemu_choice;
    desc.add_options()("help,h", "this help")("seed", po::value<std::string>(), "first seed, 0 or more (sequence i uses seed + i); default 1")(
        "count", po::value<std::string>(), "number of sequences, 0 to 1000000; default 100")("steps", po::value<std::string>(), "steps per sequence, 2 to 10000; default 24")(
        "paging-percent", po::value<std::string>(), "sequences (in percent) that also run 4-level paging on random tables; default 35")(
        "no-caps", "draw no KVM_CHECK_EXTENSION steps (for a kernel whose configuration the model is not told)")(
        "arch", po::value<std::string>(), "x86_64 or arm64: the sequences' architecture (default: arm64 with --backend qemu-arm64, else x86_64); "
                                          "with arm64, --paging-percent is the share of sequences with the MMU on")(
        "out", po::value(&out_dir), "folder for the shrunk scenarios (created if missing)")(
        "against", po::value(&against), "kvm (default): the real kernel; model: the model with --apply/--revert toggles")(
        "apply", po::value(&apply)->composing(), "the kernel under test carries this patch: with --against kvm the model applies it; with --against model the other model does")(
        "revert", po::value(&revert)->composing(), "the kernel under test lacks this patch (as --apply, reverted)")(
        "unavailable-exit", po::value(&unavailable_exit), "with --against kvm: exit with this code when the real kernel cannot be used")(
        "backend", po::value(&backend_name), "with --against kvm, the real kernel: kvm (default, this machine's /dev/kvm), qemu-x86 or qemu-arm64")(
        "kernel", po::value(&kernel_profile_arg), "with a qemu backend: the profile the booted kernel stands for (default: from its version)");
    add_format_options(desc, format);
    qemu_choice.add_options(desc);
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    const Format fmt = format_of(vm, format);
    const std::uint64_t seed = non_negative(vm, "seed", 1, ~std::uint64_t{0} / 2);
    const auto count = static_cast<unsigned>(non_negative(vm, "count", 100, 1000000));
    const auto steps = static_cast<unsigned>(non_negative(vm, "steps", 24, 10000));
    const auto paging_percent = static_cast<unsigned>(non_negative(vm, "paging-percent", 35, 100));
    if (steps < 2) throw po::error("--steps takes a whole number from 2 to 10000");
    if (against != "kvm" && against != "model") throw po::error("--against takes kvm or model");
    check_patch_names(apply);
    check_patch_names(revert);
    // The folder must be there (or made) before any sequence runs, not after the first finding.
    {
        std::error_code ec;
        std::filesystem::create_directories(out_dir, ec);
        if (ec || !std::filesystem::is_directory(out_dir)) throw po::error("--out " + out_dir + ": cannot create the folder" + (ec ? " (" + ec.message() + ")" : ""));
    }
    Report report;
    report.command = "fuzz";
    report.unit = "sequence";
    report.list_passes = false;
    std::string platform = "pvm";
    std::optional<HostDescription> host_description;
    std::optional<std::string> profile;
    std::unique_ptr<Backend> other;
    const std::optional<std::string> kernel_profile = kernel_profile_arg.empty() ? std::nullopt : std::optional(kernel_profile_arg);
    if (kernel_profile && !find_profile(*kernel_profile)) throw po::error("unknown kernel profile \"" + *kernel_profile + "\"");
    if (against == "kvm") {
        KernelSide side = kernel_side("fuzz", backend_name, qemu_choice, kernel_profile, unavailable_exit);
        if (side.exit_now) return *side.exit_now;
        if (!side.backend || side.banner.starts_with("kernel: unavailable")) {
            std::cout << "kvmsim fuzz: " << side.banner << "\n";
            return unavailable_exit >= 0 ? unavailable_exit : kExitNothingChecked;
        }
        platform = side.platform;
        profile = side.profile;
        host_description = side.host;
        other = std::move(side.backend);
        report.header.push_back(side.banner);
    } else {
        if (apply.empty() && revert.empty()) throw po::error("--against model needs --apply or --revert");
        other = make_toggled_model_backend(apply, revert);
        report.header.push_back("model (mainline) against " + other->name());
    }
    auto model = against == "kvm" && !(apply.empty() && revert.empty()) ? make_toggled_model_backend(apply, revert) : make_model_backend();
    RandomScenarioOptions options{steps, platform, paging_percent};
    options.caps = vm.count("no-caps") == 0;
    options.arch = vm.count("arch") ? vm["arch"].as<std::string>() : backend_name == "qemu-arm64" ? "arm64" : "x86_64";
    if (options.arch != "x86_64" && options.arch != "arm64") throw po::error("--arch takes x86_64 or arm64");
    DiffReport total;
    auto disagrees = [&](const nlohmann::json& doc) {
        try {
            const Scenario s = parse_scenario(doc, "(random)");
            return !diff_scenario(s, *model, *other, platform, host_description, profile).disagreements.empty();
        } catch (const ScenarioError&) {
            return false;  // a cut that leaves a step without its vCPU is not a scenario
        }
    };
    const std::string other_name = against == "kvm" ? "kvm" : other->name();
    for (unsigned i = 0; i < count; ++i) {
        const std::uint64_t sd = seed + i;
        const nlohmann::json doc = random_scenario(sd, options);
        const Scenario s = parse_scenario(doc, "random:" + std::to_string(sd));
        DiffReport d = diff_scenario(s, *model, *other, platform, host_description, profile);
        d.notes.clear();
        total.add(d);
        if (d.disagreements.empty()) {
            report.files.push_back(diff_result("seed " + std::to_string(sd), "", d, other_name));
            continue;
        }
        const nlohmann::json small = with_kernel_expectations(shrink_scenario(doc, disagrees), *other, platform, profile);
        const std::string file = (std::filesystem::path(out_dir) / ("disagreement-seed-" + std::to_string(sd) + ".json")).string();
        std::ofstream out(file);
        out << small.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        if (!out.flush()) throw po::error("cannot write " + file);
        const Scenario shrunk = parse_scenario(small, file);
        DiffReport ds = diff_scenario(shrunk, *model, *other, platform, host_description, profile);
        // The model side carries --apply/--revert only against the kernel; against a model it is plain.
        const bool model_toggled = against == "kvm";
        name_toggles(shrunk, ds, model_toggled ? apply : std::vector<std::string>{}, model_toggled ? revert : std::vector<std::string>{}, platform,
                     host_description, profile);
        FileResult f = diff_result("seed " + std::to_string(sd), "", ds, other_name);
        f.notes.push_back(std::to_string(d.disagreements.size()) + " step(s) disagree; shrunk to " + std::to_string(small["steps"].size()) + " steps: " + file);
        f.detail["shrunk"] = file;
        report.files.push_back(f);
    }
    report.footer.push_back(std::to_string(count) + " sequences: " + std::to_string(total.compared) + " steps compared, " + std::to_string(total.skipped) + " skipped");
    for (const auto& [why, n] : total.skip_reasons) report.footer.push_back("  skipped " + std::to_string(n) + ": " + why);
    write_report(std::cout, report, fmt);
    return exit_code(report);
}

}  // namespace kvmsim::cli
