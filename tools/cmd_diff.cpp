// kvmsim diff and kvmsim fuzz: the model against the real kernel of this machine.
#include <cstdio>
#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>
#include <iostream>

#include "cli.h"
#include "qemu_choice.h"
#include "model/profile/patch.h"
#include "model/profile/profile.h"
#include "sim/diff.h"
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
            char secs[32];
            std::snprintf(secs, sizeof secs, "%.1f", q->boot_seconds());
            k.banner = "kernel: Linux " + q->kernel_release() + " under QEMU (" + backend_name + ", booted in " + secs + " s); model: " + *k.profile +
                       (x86 ? " on platform " + k.platform : std::string(" (arm64)"));
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
    k.banner = host.usable ? "kernel: Linux " + host.kernel + " via /dev/kvm; model: mainline on platform " + k.platform + " (" + host.platform_why + ")"
                           : "kernel: unavailable (" + host.why_not + "); every step will be skipped";
    k.backend = make_kvm_backend();
    return k;
}

}  // namespace

int cmd_diff(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim diff [--backend kvm|qemu-x86|qemu-arm64] [--json] PATH...\n"
                                 "Runs every scenario on the model and on a real kernel (this machine's /dev/kvm, or the KVM of a\n"
                                 "QEMU-booted kernel) and prints each step where they disagree. The model runs on the platform that\n"
                                 "kernel has (detected), whatever the scenario names; with a qemu backend also as the profile the\n"
                                 "booted kernel stands for (v6.1, v6.12; --kernel overrides).\n"
                                 "Exit 0: no disagreement; 1: some; 2: bad input or usage");
    std::vector<std::string> paths;
    int unavailable_exit = -1;
    std::vector<std::string> apply, revert;
    std::string backend_name = "kvm";
    std::string kernel_profile_arg, known_file;
    desc.add_options()("help,h", "this help")("json", "print the report as JSON")(
        "apply", po::value(&apply)->composing(), "the running kernel carries this patch: the model side applies the toggle (repeatable)")(
        "revert", po::value(&revert)->composing(), "the running kernel lacks this patch: the model side reverts the toggle (repeatable)")(
        "unavailable-exit", po::value(&unavailable_exit), "exit with this code when /dev/kvm cannot be used (CTest marks 77 as skipped); default: run, every step skipped")(
        "backend", po::value(&backend_name), "kvm (default): this machine's /dev/kvm; qemu-x86 or qemu-arm64: a QEMU-booted kernel")(
        "kernel", po::value(&kernel_profile_arg), "with a qemu backend: the profile the booted kernel stands for (default: from its version)")(
        "known", po::value(&known_file), "a list of open disagreements (lines \"FOLDER/FILE.json STEP  # why\"): these are reported as known and "
                                          "do not fail the run; one that no longer occurs does (remove it from the list)")(
        "path", po::value(&paths), "scenario files or folders");
    QemuChoice qemu_choice;
    qemu_choice.add_options(desc);
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (paths.empty()) throw po::error("no scenario given");
    check_patch_names(apply);
    check_patch_names(revert);
    const bool json = vm.count("json") > 0;
    const std::optional<std::string> kernel_profile = kernel_profile_arg.empty() ? std::nullopt : std::optional(kernel_profile_arg);
    if (kernel_profile && !find_profile(*kernel_profile)) throw po::error("unknown kernel profile \"" + *kernel_profile + "\"");
    std::vector<KnownDisagreement> known;
    if (!known_file.empty()) known = read_known(known_file);
    KernelSide side = kernel_side("diff", backend_name, qemu_choice, kernel_profile, unavailable_exit);
    if (side.exit_now) return *side.exit_now;
    if (!json) std::cout << side.banner << "\n";
    const std::string& platform = side.platform;
    auto model = apply.empty() && revert.empty() ? make_model_backend() : make_toggled_model_backend(apply, revert);
    if (!json && (!apply.empty() || !revert.empty())) std::cout << "model side: " << model->name() << "\n";
    Backend& kernel = *side.backend;
    bool bad_input = false;
    DiffReport total;
    std::size_t scenarios = 0, known_seen = 0, unknown = 0;
    nlohmann::json out = {{"platform", platform}, {"backend", kernel.name()}, {"disagreements", nlohmann::json::array()}};
    if (side.profile) out["profile"] = *side.profile;
    for (const auto& file : collect(paths, bad_input)) {
        const auto loaded = load_reporting(file);
        if (!loaded) {
            bad_input = true;
            continue;
        }
        const Scenario& s = *loaded;
        ++scenarios;
        const DiffReport d = diff_scenario(s, *model, kernel, platform, side.profile);
        for (const auto& x : d.disagreements) {
            const std::string where = x.step ? "step " + std::to_string(x.step->index) + " (" + x.step->op + ")" : std::string("setup");
            const KnownDisagreement* k = find_known(known, file, x.step);
            if (k) ++known_seen, k->seen = true;
            else ++unknown;
            if (!json)
                std::cout << (k ? "known: " : "") << file << " [" << x.profile << "] " << where << ": model " << render(x.model) << " | kernel "
                          << render(x.kernel) << (k ? "  # " + k->why : std::string()) << "\n";
            out["disagreements"].push_back({{"file", file}, {"kernel", x.profile}, {"step", x.step ? nlohmann::json(x.step->index) : nlohmann::json()},
                                            {"model", x.model}, {"kvm", x.kernel}});
        }
        if (!json)
            for (const auto& n : d.notes) std::cout << file << ": note: " << n << "\n";
        total.add(d);
    }
    if (json) {
        out["scenarios"] = scenarios;
        out["compared"] = total.compared;
        out["skipped"] = total.skipped;
        out["skip_reasons"] = total.skip_reasons;
        std::cout << out.dump(2) << "\n";
    } else {
        std::cout << scenarios << " scenarios: " << total.compared << " steps compared, " << total.disagreements.size() << " disagree, " << total.skipped
                  << " skipped\n";
        for (const auto& [why, n] : total.skip_reasons) std::cout << "  skipped " << n << ": " << why << "\n";
    }
    std::size_t stale = 0;
    for (const auto& k : known)
        if (!k.seen) {
            ++stale;
            std::cout << "no longer disagrees (remove it from " << known_file << "): " << k.file << " " << k.step << "\n";
        }
    if (!json && !known.empty()) std::cout << known_seen << " known disagreement(s) (" << known_file << "), " << unknown << " new\n";
    if (bad_input) return kExitBadInput;
    return unknown == 0 && stale == 0 ? kExitOk : kExitFailed;
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
    po::options_description desc("kvmsim fuzz [--seed S] [--count N] [--steps M] [--out DIR] [--against kvm|model] [--backend kvm|qemu-x86|qemu-arm64]\n"
                                 "           [--apply X] [--revert X]\n"
                                 "Runs random scenarios on the model and on a real kernel (or on the model with patch toggles changed) and\n"
                                 "shrinks every disagreement to a minimal scenario written to DIR, with the other side's outcomes\n"
                                 "as its expectations. Exit 0: no disagreement; 1: some; 2: usage");
    std::uint64_t seed = 1;
    unsigned count = 100, steps = 24, paging_percent = 35;
    std::string out_dir = ".", against = "kvm";
    std::vector<std::string> apply, revert;
    int unavailable_exit = -1;
    std::string backend_name = "kvm";
    std::string kernel_profile_arg;
    QemuChoice qemu_choice;
    desc.add_options()("help,h", "this help")("seed", po::value(&seed), "first seed (sequence i uses seed + i)")("count", po::value(&count), "number of sequences")(
        "steps", po::value(&steps), "steps per sequence")(
        "paging-percent", po::value(&paging_percent), "sequences (in percent) that also run 4-level paging on random tables (default 35)")("out", po::value(&out_dir), "folder for the shrunk scenarios")(
        "against", po::value(&against), "kvm (default): the real kernel; model: the model with --apply/--revert toggles")(
        "apply", po::value(&apply)->composing(), "the kernel under test carries this patch: with --against kvm the model applies it; with --against model the other model does")(
        "revert", po::value(&revert)->composing(), "the kernel under test lacks this patch (as --apply, reverted)")(
        "unavailable-exit", po::value(&unavailable_exit), "with --against kvm: exit with this code when the real kernel cannot be used")(
        "backend", po::value(&backend_name), "with --against kvm, the real kernel: kvm (default, this machine's /dev/kvm), qemu-x86 or qemu-arm64")(
        "kernel", po::value(&kernel_profile_arg), "with a qemu backend: the profile the booted kernel stands for (default: from its version)");
    qemu_choice.add_options(desc);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (against != "kvm" && against != "model") throw po::error("--against takes kvm or model");
    if (steps < 2 || steps > 10000) throw po::error("--steps must be between 2 and 10000");
    check_patch_names(apply);
    check_patch_names(revert);
    std::string platform = "pvm";
    std::optional<std::string> profile;
    std::unique_ptr<Backend> other;
    const std::optional<std::string> kernel_profile = kernel_profile_arg.empty() ? std::nullopt : std::optional(kernel_profile_arg);
    if (kernel_profile && !find_profile(*kernel_profile)) throw po::error("unknown kernel profile \"" + *kernel_profile + "\"");
    if (against == "kvm") {
        KernelSide side = kernel_side("fuzz", backend_name, qemu_choice, kernel_profile, unavailable_exit);
        if (side.exit_now) return *side.exit_now;
        if (!side.backend || side.banner.starts_with("kernel: unavailable")) {
            std::cout << "kvmsim fuzz: " << side.banner << "\n";
            return kExitBadInput;
        }
        platform = side.platform;
        profile = side.profile;
        other = std::move(side.backend);
        std::cout << side.banner << "\n";
    } else {
        if (apply.empty() && revert.empty()) throw po::error("--against model needs --apply or --revert");
        other = make_toggled_model_backend(apply, revert);
        std::cout << "model (mainline) against " << other->name() << "\n";
    }
    auto model = against == "kvm" && !(apply.empty() && revert.empty()) ? make_toggled_model_backend(apply, revert) : make_model_backend();
    if (paging_percent > 100) throw po::error("--paging-percent must be between 0 and 100");
    const RandomScenarioOptions options{steps, platform, paging_percent};
    DiffReport total;
    std::size_t failing = 0;
    auto disagrees = [&](const nlohmann::json& doc) {
        const Scenario s = parse_scenario(doc, "(random)");
        return !diff_scenario(s, *model, *other, platform, profile).disagreements.empty();
    };
    for (unsigned i = 0; i < count; ++i) {
        const std::uint64_t sd = seed + i;
        const nlohmann::json doc = random_scenario(sd, options);
        const Scenario s = parse_scenario(doc, "random:" + std::to_string(sd));
        DiffReport d = diff_scenario(s, *model, *other, platform, profile);
        d.notes.clear();
        total.add(d);
        if (d.disagreements.empty()) continue;
        ++failing;
        const nlohmann::json small = with_kernel_expectations(shrink_scenario(doc, disagrees), *other, platform, profile);
        const std::string file = out_dir + "/disagreement-seed-" + std::to_string(sd) + ".json";
        std::ofstream(file) << small.dump(2) << "\n";
        const Scenario shrunk = parse_scenario(small, file);
        const DiffReport ds = diff_scenario(shrunk, *model, *other, platform, profile);
        std::cout << "seed " << sd << ": " << d.disagreements.size() << " step(s) disagree; shrunk to " << small["steps"].size() << " steps: " << file << "\n";
        for (const auto& x : ds.disagreements)
            std::cout << "  step " << (x.step ? std::to_string(x.step->index) + " (" + x.step->op + ")" : std::string("setup")) << ": model " << render(x.model)
                      << " | " << other->name() << " " << render(x.kernel) << "\n";
    }
    std::cout << count << " sequences: " << total.compared << " steps compared, " << total.skipped << " skipped, " << failing << " sequence(s) disagree\n";
    for (const auto& [why, n] : total.skip_reasons) std::cout << "  skipped " << n << ": " << why << "\n";
    return failing ? kExitFailed : kExitOk;
}

}  // namespace kvmsim::cli
