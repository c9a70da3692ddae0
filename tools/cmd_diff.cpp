// kvmsim diff and kvmsim fuzz: the model against the real kernel of this machine.
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "cli.h"
#include "model/profile/patch.h"
#include "sim/diff.h"
#include "sim/kvm/host_platform.h"
#include "sim/random_scenario.h"

namespace po = boost::program_options;
using namespace kvmsim;
using namespace kvmsim::sim;

namespace kvmsim::cli {

int cmd_diff(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim diff [--json] PATH...\n"
                                 "Runs every scenario on the model and on this machine's /dev/kvm and prints each step where they\n"
                                 "disagree. The model runs on the platform this host has (detected), whatever the scenario names.\n"
                                 "Exit 0: no disagreement; 1: some; 2: bad input or usage");
    std::vector<std::string> paths;
    int unavailable_exit = -1;
    std::vector<std::string> apply, revert;
    desc.add_options()("help,h", "this help")("json", "print the report as JSON")(
        "apply", po::value(&apply)->composing(), "the running kernel carries this patch: the model side applies the toggle (repeatable)")(
        "revert", po::value(&revert)->composing(), "the running kernel lacks this patch: the model side reverts the toggle (repeatable)")(
        "unavailable-exit", po::value(&unavailable_exit), "exit with this code when /dev/kvm cannot be used (CTest marks 77 as skipped); default: run, every step skipped")(
        "path", po::value(&paths), "scenario files or folders");
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (paths.empty()) throw po::error("no scenario given");
    check_patch_names(apply);
    check_patch_names(revert);
    const bool json = vm.count("json") > 0;
    const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
    if (!host.usable && unavailable_exit >= 0) {
        std::cout << "kvmsim diff: skipped: " << host.why_not << "\n";
        return unavailable_exit;
    }
    const std::string platform = host.usable ? host.platform : "pvm";
    if (!json) {
        if (host.usable) std::cout << "kernel: Linux " << host.kernel << " via /dev/kvm; model: mainline on platform " << platform << " (" << host.platform_why << ")\n";
        else std::cout << "kernel: unavailable (" << host.why_not << "); every step will be skipped\n";
    }
    auto model = apply.empty() && revert.empty() ? make_model_backend() : make_toggled_model_backend(apply, revert);
    if (!json && (!apply.empty() || !revert.empty())) std::cout << "model side: " << model->name() << "\n";
    auto kernel = make_kvm_backend();
    bool bad_input = false;
    DiffReport total;
    std::size_t scenarios = 0;
    nlohmann::json out = {{"platform", platform}, {"disagreements", nlohmann::json::array()}};
    for (const auto& file : collect(paths, bad_input)) {
        const auto loaded = load_reporting(file);
        if (!loaded) {
            bad_input = true;
            continue;
        }
        const Scenario& s = *loaded;
        ++scenarios;
        const DiffReport d = diff_scenario(s, *model, *kernel, platform);
        for (const auto& x : d.disagreements) {
            const std::string where = x.step ? "step " + std::to_string(x.step->index) + " (" + x.step->op + ")" : std::string("setup");
            if (!json) std::cout << file << " [" << x.profile << "] " << where << ": model " << render(x.model) << " | kernel " << render(x.kernel) << "\n";
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
        std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    } else {
        std::cout << scenarios << " scenarios: " << total.compared << " steps compared, " << total.disagreements.size() << " disagree, " << total.skipped
                  << " skipped\n";
        for (const auto& [why, n] : total.skip_reasons) std::cout << "  skipped " << n << ": " << why << "\n";
    }
    if (bad_input) return kExitBadInput;
    return total.disagreements.empty() ? kExitOk : kExitFailed;
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
    po::options_description desc("kvmsim fuzz [--seed S] [--count N] [--steps M] [--out DIR] [--against kvm|model] [--apply X] [--revert X]\n"
                                 "Runs random scenarios on the model and on /dev/kvm (or on the model with patch toggles changed) and\n"
                                 "shrinks every disagreement to a minimal scenario written to DIR, with the other side's outcomes\n"
                                 "as its expectations. Exit 0: no disagreement; 1: some; 2: usage");
    std::uint64_t seed = 1;
    unsigned count = 100, steps = 24;
    std::string out_dir = ".", against = "kvm";
    std::vector<std::string> apply, revert;
    int unavailable_exit = -1;
    desc.add_options()("help,h", "this help")("seed", po::value(&seed), "first seed (sequence i uses seed + i)")("count", po::value(&count), "number of sequences")(
        "steps", po::value(&steps), "steps per sequence")("out", po::value(&out_dir), "folder for the shrunk scenarios")(
        "against", po::value(&against), "kvm (default): the real kernel; model: the model with --apply/--revert toggles")(
        "apply", po::value(&apply)->composing(), "the kernel under test carries this patch: with --against kvm the model applies it; with --against model the other model does")(
        "revert", po::value(&revert)->composing(), "the kernel under test lacks this patch (as --apply, reverted)")(
        "unavailable-exit", po::value(&unavailable_exit), "with --against kvm: exit with this code when /dev/kvm cannot be used");
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).run(), vm);
    po::notify(vm);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (against != "kvm" && against != "model") throw po::error("--against takes kvm or model");
    if (steps < 2 || steps > 10000) throw po::error("--steps must be between 2 and 10000");
    check_patch_names(apply);
    check_patch_names(revert);
    // The shrunk scenarios go there: a folder that is not there is a usage error, found before
    // any sequence runs (not after, with file names reported that were never written).
    {
        std::error_code ec;
        if (!fs::is_directory(out_dir, ec)) throw po::error("--out \"" + out_dir + "\" is not a folder");
    }
    std::string platform = "pvm";
    std::unique_ptr<Backend> other;
    if (against == "kvm") {
        const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
        if (!host.usable) {
            std::cout << "kvmsim fuzz: /dev/kvm unusable: " << host.why_not << "\n";
            return unavailable_exit >= 0 ? unavailable_exit : kExitBadInput;
        }
        platform = host.platform;
        other = make_kvm_backend();
        std::cout << "model (mainline, platform " << platform << ") against Linux " << host.kernel << " via /dev/kvm\n";
    } else {
        if (apply.empty() && revert.empty()) throw po::error("--against model needs --apply or --revert");
        other = make_toggled_model_backend(apply, revert);
        std::cout << "model (mainline) against " << other->name() << "\n";
    }
    auto model = against == "kvm" && !(apply.empty() && revert.empty()) ? make_toggled_model_backend(apply, revert) : make_model_backend();
    const RandomScenarioOptions options{steps, platform};
    DiffReport total;
    std::size_t failing = 0;
    auto disagrees = [&](const nlohmann::json& doc) {
        const Scenario s = parse_scenario(doc, "(random)");
        return !diff_scenario(s, *model, *other, platform).disagreements.empty();
    };
    for (unsigned i = 0; i < count; ++i) {
        const std::uint64_t sd = seed + i;
        const nlohmann::json doc = random_scenario(sd, options);
        const Scenario s = parse_scenario(doc, "random:" + std::to_string(sd));
        DiffReport d = diff_scenario(s, *model, *other, platform);
        d.notes.clear();
        total.add(d);
        if (d.disagreements.empty()) continue;
        ++failing;
        const nlohmann::json small = with_kernel_expectations(shrink_scenario(doc, disagrees), *other, platform);
        const std::string file = out_dir + "/disagreement-seed-" + std::to_string(sd) + ".json";
        std::ofstream written(file);
        written << small.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
        written.close();
        if (!written) {
            std::cerr << "kvmsim fuzz: cannot write " << file << "\n";
            return kExitBadInput;
        }
        const Scenario shrunk = parse_scenario(small, file);
        const DiffReport ds = diff_scenario(shrunk, *model, *other, platform);
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
