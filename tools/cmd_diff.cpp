// kvmsim diff and kvmsim fuzz: the model against the real kernel of this machine.
#include <boost/program_options.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "results.h"
#include "model/profile/patch.h"
#include "sim/diff.h"
#include "sim/kvm/host_platform.h"
#include "sim/random_scenario.h"

namespace po = boost::program_options;
using namespace kvmsim;
using namespace kvmsim::sim;

namespace kvmsim::cli {

int cmd_diff(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim diff [--format F] [--apply X] [--revert X] PATH...\n"
                                             "Runs every scenario on the model and on this machine's /dev/kvm and reports each step where they\n"
                                             "disagree. The model runs on the platform this host has (detected), whatever the scenario names.\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::vector<std::string> paths;
    int unavailable_exit = -1;
    std::vector<std::string> apply, revert;
    std::string format;
    desc.add_options()("help,h", "this help")(
        "apply", po::value(&apply)->composing(), "the running kernel carries this patch: the model side applies the toggle (repeatable)")(
        "revert", po::value(&revert)->composing(), "the running kernel lacks this patch: the model side reverts the toggle (repeatable)")(
        "unavailable-exit", po::value(&unavailable_exit), "exit with this code when /dev/kvm cannot be used (CTest marks 77 as skipped); default: run, every step skipped");
    add_format_options(desc, format);
    const po::variables_map vm = parse_command(desc, args, &paths);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    const Format fmt = format_of(vm, format);
    if (paths.empty()) throw po::error("no scenario given");
    check_patch_names(apply);
    check_patch_names(revert);
    const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
    if (!host.usable && unavailable_exit >= 0) {
        std::cout << "kvmsim diff: skipped: " << host.why_not << "\n";
        return unavailable_exit;
    }
    const std::string platform = host.usable ? host.platform : "pvm";
    Report report;
    report.command = "diff";
    report.list_passes = false;
    report.extra = {{"platform", platform}};
    const std::optional<HostDescription> host_description = host.usable ? std::optional(host.description) : std::nullopt;
    if (host.usable) report.header.push_back("kernel: Linux " + host.kernel + " via /dev/kvm; model: mainline on platform " + platform + " (" + host.platform_why + "), host " + describe(host.description));
    else report.header.push_back("kernel: unavailable (" + host.why_not + "); every step will be skipped");
    auto model = apply.empty() && revert.empty() ? make_model_backend() : make_toggled_model_backend(apply, revert);
    if (!apply.empty() || !revert.empty()) report.header.push_back("model side: " + model->name());
    auto kernel = make_kvm_backend();
    DiffReport total;
    for_each_scenario(paths, report, [&](const std::string& file, const Scenario& s) {
        const DiffReport d = diff_scenario(s, *model, *kernel, platform, host_description);
        total.add(d);
        return diff_result(file, s.name, d, "kvm");
    });
    report.footer.push_back(std::to_string(total.compared) + " steps compared, " + std::to_string(total.disagreements.size()) + " disagree, " + std::to_string(total.skipped) +
                            " skipped");
    for (const auto& [why, n] : total.skip_reasons) report.footer.push_back("  skipped " + std::to_string(n) + ": " + why);
    write_report(std::cout, report, fmt);
    return exit_code(report);
}

namespace {

// The kernel's outcomes, written into the scenario as its expectations.
nlohmann::json with_kernel_expectations(nlohmann::json doc, Backend& kernel, const std::string& platform) {
    const Scenario s = parse_scenario(doc, "(shrunk)");
    RunOptions o;
    o.platform = platform;
    const auto runs = run_scenario(s, kernel, o);
    if (runs.empty()) return doc;
    for (const auto& st : runs.front().steps)
        if (!st.skipped && !st.actual.is_null()) doc["steps"][st.step->index]["expect"] = st.actual;
    return doc;
}

}  // namespace

int cmd_fuzz(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim fuzz [--seed S] [--count N] [--steps M] [--out DIR] [--against kvm|model] [--apply X] [--revert X] [--format F]\n"
                                             "Runs random scenarios on the model and on /dev/kvm (or on the model with patch toggles changed) and\n"
                                             "shrinks every disagreement to a minimal scenario written to DIR, with the other side's outcomes\n"
                                             "as its expectations.\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::string out_dir = ".", against = "kvm", format;
    std::vector<std::string> apply, revert;
    int unavailable_exit = -1;
    desc.add_options()("help,h", "this help")("seed", po::value<std::string>(), "first seed, 0 or more (sequence i uses seed + i); default 1")(
        "count", po::value<std::string>(), "number of sequences, 0 to 1000000; default 100")("steps", po::value<std::string>(), "steps per sequence, 2 to 10000; default 24")(
        "out", po::value(&out_dir), "folder for the shrunk scenarios (created if missing)")(
        "against", po::value(&against), "kvm (default): the real kernel; model: the model with --apply/--revert toggles")(
        "apply", po::value(&apply)->composing(), "the kernel under test carries this patch: with --against kvm the model applies it; with --against model the other model does")(
        "revert", po::value(&revert)->composing(), "the kernel under test lacks this patch (as --apply, reverted)")(
        "unavailable-exit", po::value(&unavailable_exit), "with --against kvm: exit with this code when /dev/kvm cannot be used");
    add_format_options(desc, format);
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    const Format fmt = format_of(vm, format);
    const std::uint64_t seed = non_negative(vm, "seed", 1, ~std::uint64_t{0} / 2);
    const auto count = static_cast<unsigned>(non_negative(vm, "count", 100, 1000000));
    const auto steps = static_cast<unsigned>(non_negative(vm, "steps", 24, 10000));
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
    std::unique_ptr<Backend> other;
    if (against == "kvm") {
        const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
        if (!host.usable) {
            std::cout << "kvmsim fuzz: /dev/kvm unusable: " << host.why_not << "\n";
            return unavailable_exit >= 0 ? unavailable_exit : kExitNothingChecked;
        }
        platform = host.platform;
        host_description = host.description;
        other = make_kvm_backend();
        report.header.push_back("model (mainline, platform " + platform + ", host " + describe(host.description) + ") against Linux " + host.kernel + " via /dev/kvm");
    } else {
        if (apply.empty() && revert.empty()) throw po::error("--against model needs --apply or --revert");
        other = make_toggled_model_backend(apply, revert);
        report.header.push_back("model (mainline) against " + other->name());
    }
    auto model = against == "kvm" && !(apply.empty() && revert.empty()) ? make_toggled_model_backend(apply, revert) : make_model_backend();
    const RandomScenarioOptions options{steps, platform};
    DiffReport total;
    auto disagrees = [&](const nlohmann::json& doc) {
        try {
            const Scenario s = parse_scenario(doc, "(random)");
            return !diff_scenario(s, *model, *other, platform, host_description).disagreements.empty();
        } catch (const ScenarioError&) {
            return false;  // a cut that leaves a step without its vCPU is not a scenario
        }
    };
    const std::string other_name = against == "kvm" ? "kvm" : other->name();
    for (unsigned i = 0; i < count; ++i) {
        const std::uint64_t sd = seed + i;
        const nlohmann::json doc = random_scenario(sd, options);
        const Scenario s = parse_scenario(doc, "random:" + std::to_string(sd));
        DiffReport d = diff_scenario(s, *model, *other, platform, host_description);
        d.notes.clear();
        total.add(d);
        if (d.disagreements.empty()) {
            report.files.push_back(diff_result("seed " + std::to_string(sd), "", d, other_name));
            continue;
        }
        const nlohmann::json small = with_kernel_expectations(shrink_scenario(doc, disagrees), *other, platform);
        const std::string file = (std::filesystem::path(out_dir) / ("disagreement-seed-" + std::to_string(sd) + ".json")).string();
        std::ofstream out(file);
        out << small.dump(2) << "\n";
        if (!out.flush()) throw po::error("cannot write " + file);
        const Scenario shrunk = parse_scenario(small, file);
        FileResult f = diff_result("seed " + std::to_string(sd), "", diff_scenario(shrunk, *model, *other, platform, host_description), other_name);
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
