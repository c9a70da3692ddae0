// kvmsim: run, explain and validate scenarios against the kernel model; list profiles.
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "cli.h"
#include "model/profile/profile.h"
#include "sim/runner.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace kvmsim;
using namespace kvmsim::sim;
using namespace kvmsim::cli;

namespace {

}  // namespace

void kvmsim::cli::check_patch_names(const std::vector<std::string>& names) {
    for (const auto& n : names)
        if (!patch_from_name(n)) throw po::error("unknown patch \"" + n + "\" (kvmsim profiles lists them)");
}

namespace {

int cmd_run(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim run [--backend model|kvm] [--kernel P] [--apply X] [--revert X] [--json] PATH...\n"
                                 "Runs every scenario (files, or folders of *.json) and checks its expectations.\n"
                                 "Exit 0: all held; 1: some failed; 2: bad input or usage");
    std::optional<std::string> kernel;
    std::vector<std::string> apply, revert, paths;
    std::string backend_name = "model";
    desc.add_options()("help,h", "this help")("backend", po::value(&backend_name),
                                               "model (default), or kvm: the real /dev/kvm of this machine; steps it cannot reproduce are skipped, with the reason")(
        "kernel", po::value<std::string>(), "run against this profile instead of the scenario's")(
        "apply", po::value(&apply)->composing(), "apply a patch toggle on top of the profile (repeatable)")(
        "revert", po::value(&revert)->composing(), "revert a patch toggle (repeatable)")("json", "print the results as JSON")(
        "path", po::value(&paths), "scenario files or folders");
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (paths.empty()) throw po::error("no scenario given");
    if (vm.count("kernel")) {
        kernel = vm["kernel"].as<std::string>();
        if (!find_profile(*kernel)) throw po::error("unknown kernel profile \"" + *kernel + "\"");
    }
    check_patch_names(apply);
    check_patch_names(revert);
    const bool json = vm.count("json") > 0;
    if (backend_name != "model" && backend_name != "kvm") throw po::error("unknown backend \"" + backend_name + "\" (model or kvm)");

    bool bad_input = false, internal = false;
    std::size_t passed = 0, failed = 0, steps_skipped = 0;
    nlohmann::json out = nlohmann::json::array();
    auto backend = backend_name == "kvm" ? make_kvm_backend() : make_model_backend();
    for (const auto& file : collect(paths, bad_input)) {
        std::string error;
        const auto loaded = load_reporting(file, &error);
        if (!loaded) {
            bad_input = true;
            if (json) out.push_back({{"file", file}, {"error", error}});
            continue;
        }
        const Scenario& s = *loaded;
        RunOptions options;
        options.kernel = kernel;
        options.apply = apply;
        options.revert = revert;
        std::vector<KernelRun> runs;
        try {
            runs = run_scenario(s, *backend, options);
        } catch (const std::exception& e) {
            // A model bug in one file: report it with the file, and keep the other files' results.
            internal = true;
            std::cerr << file << ": internal error: " << e.what() << "\n";
            if (json) out.push_back({{"file", file}, {"internal_error", e.what()}});
            else std::cout << "ERROR " << file << "\n";
            continue;
        }
        std::size_t fails = 0;
        nlohmann::json jf = {{"file", file}, {"name", s.name}, {"kernels", nlohmann::json::array()}};
        for (const auto& run : runs) fails += run.failures();
        if (!json) std::cout << (fails ? "FAIL " : "PASS ") << file << "\n";
        if (!json)
            for (const auto& note : backend->notes()) std::cout << "  note: " << note << "\n";
        for (const auto& run : runs) {
            nlohmann::json jk = {{"kernel", run.profile}, {"failures", nlohmann::json::array()}, {"skipped", nlohmann::json::array()}};
            std::map<std::string, std::size_t> skips;
            for (const auto& st : run.steps)
                if (st.skipped) ++skips[st.skip_reason];
            for (const auto& [why, n] : skips) {
                steps_skipped += n;
                if (!json) std::cout << "  [" << run.profile << "] " << n << " step(s) skipped: " << why << "\n";
                jk["skipped"].push_back({{"steps", n}, {"reason", why}});
            }
            if (run.setup_error) {
                if (!json) std::cout << "  [" << run.profile << "] setup: " << *run.setup_error << "\n";
                jk["failures"].push_back({{"setup", *run.setup_error}});
            }
            for (const auto& st : run.steps) {
                if (!st.difference) continue;
                if (!json)
                    std::cout << "  [" << run.profile << "] step " << st.step->index << " (" << st.step->op << "): " << *st.difference << "\n";
                jk["failures"].push_back({{"step", st.step->index}, {"op", st.step->op}, {"expected", st.expected}, {"actual", st.actual},
                                          {"difference", *st.difference}});
            }
            jf["kernels"].push_back(jk);
        }
        out.push_back(jf);
        fails ? ++failed : ++passed;
    }
    if (json) std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    else std::cout << passed << " passed, " << failed << " failed" << (steps_skipped ? ", " + std::to_string(steps_skipped) + " steps skipped" : "") << "\n";
    if (internal) return kExitInternal;
    if (bad_input) return kExitBadInput;
    return failed ? kExitFailed : kExitOk;
}

int cmd_explain(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim explain [--kernel P] [--backend model|kvm] FILE\n"
                                 "Runs one scenario and shows, for each step, the kernel functions it went through and why it ended as it did");
    std::vector<std::string> paths;
    std::optional<std::string> kernel;
    std::string backend_name = "model";
    desc.add_options()("help,h", "this help")("kernel", po::value<std::string>(), "explain the run against this profile")(
        "backend", po::value(&backend_name), "model (default), or kvm: show the ioctls and exits on this machine's /dev/kvm")("path", po::value(&paths), "scenario file");
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (paths.size() != 1) throw po::error("explain takes exactly one scenario file");
    if (vm.count("kernel")) {
        kernel = vm["kernel"].as<std::string>();
        if (!find_profile(*kernel)) throw po::error("unknown kernel profile \"" + *kernel + "\"");
    }
    const auto loaded = load_reporting(paths[0]);
    if (!loaded) return kExitBadInput;
    const Scenario& s = *loaded;
    if (backend_name != "model" && backend_name != "kvm") throw po::error("unknown backend \"" + backend_name + "\" (model or kvm)");
    std::cout << s.name << "\n\n" << s.description << "\n";
    auto backend = backend_name == "kvm" ? make_kvm_backend() : make_model_backend();
    std::size_t fails = 0;
    RunOptions options;
    options.kernel = kernel;
    options.trace = true;
    std::vector<KernelRun> runs;
    try {
        runs = run_scenario(s, *backend, options);
    } catch (const std::exception& e) {
        std::cerr << paths[0] << ": internal error: " << e.what() << "\n";
        return kExitInternal;
    }
    for (const auto& run : runs) {
        std::cout << "\n=== kernel " << run.profile << " (platform " << s.platform << ") ===\n";
        if (run.setup_error) std::cout << "setup refused: " << *run.setup_error << "\n";
        for (const auto& note : backend->notes()) std::cout << "note: " << note << "\n";
        for (const auto& st : run.steps) {
            std::cout << "\nstep " << st.step->index << ": " << st.step->op << "\n";
            for (const auto& ev : st.trace) std::cout << "    " << ev.function << ": " << ev.detail << "\n";
            if (st.skipped) {
                std::cout << "  skipped: " << st.skip_reason << "\n";
                continue;
            }
            std::cout << "  -> " << render(st.actual) << "\n";
            if (!st.expected.is_null()) std::cout << (st.difference ? "  MISMATCH: " + *st.difference : std::string("  as expected")) << "\n";
        }
        fails += run.failures();
    }
    return fails ? kExitFailed : kExitOk;
}

int cmd_validate(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim validate PATH...\nChecks scenarios against the format without running them");
    std::vector<std::string> paths;
    desc.add_options()("help,h", "this help")("path", po::value(&paths), "scenario files or folders");
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (paths.empty()) throw po::error("no scenario given");
    bool bad = false;
    for (const auto& file : collect(paths, bad)) {
        if (load_reporting(file)) std::cout << "ok " << file << "\n";
        else bad = true;
    }
    return bad ? kExitBadInput : kExitOk;
}

int cmd_profiles() {
    std::cout << "Profiles:\n";
    for (const auto& p : all_profiles()) {
        std::cout << "  " << p.name << " [" << p.arch << "]: " << p.description << "\n";
        if (!p.series.empty()) std::cout << "    series: " << p.series << "\n";
        if (!p.subject.empty()) std::cout << "    patch:  " << p.subject << "\n";
        std::cout << "    patches:";
        const Profile prof = *find_profile(p.name);
        for (const auto& patch : all_patches())
            if (prof.has(patch.patch)) std::cout << " " << patch.name;
        std::cout << "\n";
    }
    std::cout << "\nPatches (toggle with --apply / --revert or a scenario's \"patches\"):\n";
    for (const auto& patch : all_patches()) {
        std::cout << "  " << patch.name << " [" << patch.release << (patch.commit.empty() ? "" : ", " + std::string(patch.commit))
                  << (patch.arch == "any" ? "" : ", " + std::string(patch.arch)) << "]\n"
                  << "    \"" << patch.subject << "\"\n    " << patch.what << "\n";
    }
    return kExitOk;
}

void usage(std::ostream& os) {
    os << "usage: kvmsim <command> [options]\n\n"
          "commands:\n"
          "  run       run scenarios and check their expectations\n"
          "  explain   run one scenario and show each step's path through the kernel\n"
          "  diff      run scenarios on the model and on /dev/kvm; print every step where they disagree\n"
          "  fuzz      random sequences on the model and on /dev/kvm; shrink each disagreement to a scenario\n"
          "  validate  check scenarios against the format\n"
          "  profiles  list kernel profiles and patch toggles\n\n"
          "kvmsim <command> --help shows a command's options.\n";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(std::cerr);
        return kExitBadInput;
    }
    const std::string cmd = argv[1];
    const std::vector<std::string> args(argv + 2, argv + argc);
    try {
        if (cmd == "run") return cmd_run(args);
        if (cmd == "explain") return cmd_explain(args);
        if (cmd == "validate") return cmd_validate(args);
        if (cmd == "diff") return cmd_diff(args);
        if (cmd == "fuzz") return cmd_fuzz(args);
        if (cmd == "profiles") return cmd_profiles();
        if (cmd == "--help" || cmd == "-h" || cmd == "help") return usage(std::cout), kExitOk;
        std::cerr << "kvmsim: unknown command \"" << cmd << "\"\n";
        usage(std::cerr);
        return kExitBadInput;
    } catch (const po::error& e) {
        std::cerr << "kvmsim " << cmd << ": " << e.what() << "\n";
        return kExitBadInput;
    } catch (const std::exception& e) {
        std::cerr << "kvmsim: internal error: " << e.what() << "\n";
        return kExitInternal;
    }
}
