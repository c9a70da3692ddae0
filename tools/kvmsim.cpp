// kvmsim: run, explain, diff, fuzz and validate scenarios against the kernel model; list profiles.
#include <boost/program_options.hpp>
#include <iostream>
#include <string>
#include <vector>

#include "cli.h"
#include "model/profile/profile.h"

#ifndef KVMSIM_VERSION
#define KVMSIM_VERSION "unknown"
#endif

namespace po = boost::program_options;
using namespace kvmsim;
using namespace kvmsim::cli;

namespace {

int cmd_profiles(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim profiles\nLists the kernel profiles (--kernel, a scenario's \"kernel\") and the patch toggles (--apply, --revert).\n"
                                 "Exit codes: 0 listed; 2 usage\n\nOptions");
    desc.add_options()("help,h", "this help");
    const po::variables_map vm = parse_command(desc, args);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
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

struct Command {
    const char* name;
    const char* summary;
    int (*fn)(const std::vector<std::string>&);
};

const Command kCommands[] = {
    {"run", "run scenarios and check their expectations", cmd_run},
    {"explain", "run one scenario and show each step's path through the kernel (--html: a page with pictures)", cmd_explain},
    {"diff", "run scenarios on the model and on /dev/kvm; report every step where they disagree", cmd_diff},
    {"fuzz", "random sequences on the model and on /dev/kvm; shrink each disagreement to a scenario", cmd_fuzz},
    {"validate", "check scenarios against the format and list every error", cmd_validate},
    {"profiles", "list kernel profiles and patch toggles", cmd_profiles},
    {"serve", "answer a qemu backend's requests inside a QEMU-booted guest (started by the guest's init)", cmd_serve},
};

void usage(std::ostream& os) {
    os << "usage: kvmsim <command> [options]\n       kvmsim help <command>\n       kvmsim --version\n\ncommands:\n";
    for (const auto& c : kCommands) os << "  " << c.name << std::string(10 - std::string(c.name).size(), ' ') << c.summary << "\n";
    os << "\nkvmsim help <command> (or kvmsim <command> --help) shows a command's options.\n\n" << kExitCodesHelp << "\n";
}

const Command* find_command(const std::string& name) {
    for (const auto& c : kCommands)
        if (name == c.name) return &c;
    return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        usage(std::cerr);
        return kExitBadInput;
    }
    std::string cmd = argv[1];
    std::vector<std::string> args(argv + 2, argv + argc);
    try {
        if (cmd == "--version" || cmd == "version") {
            if (!args.empty()) throw po::error("--version takes no arguments");
            std::cout << "kvmsim " << KVMSIM_VERSION << "\n";
            return kExitOk;
        }
        if (cmd == "--help" || cmd == "-h" || cmd == "help") {
            if (args.empty()) return usage(std::cout), kExitOk;
            if (args.size() > 1) throw po::error("help takes one command name");
            if (!find_command(args[0])) throw po::error("unknown command \"" + args[0] + "\"");
            cmd = args[0];
            args = {"--help"};
        }
        if (const Command* c = find_command(cmd)) return c->fn(args);
        std::cerr << "kvmsim: unknown command \"" << cmd << "\"\n";
        usage(std::cerr);
        return kExitBadInput;
    } catch (const po::error& e) {
        std::cerr << "kvmsim " << cmd << ": " << e.what() << " (kvmsim help " << (find_command(cmd) ? cmd : std::string()) << " shows the usage)\n";
        return kExitBadInput;
    } catch (const std::exception& e) {
        std::cerr << "kvmsim: internal error: " << e.what() << "\n";
        return kExitInternal;
    }
}
