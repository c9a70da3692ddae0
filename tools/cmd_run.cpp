// kvmsim run and kvmsim validate.
#include <iostream>

#include "cli.h"
#include "qemu_choice.h"
#include "results.h"

namespace po = boost::program_options;
using namespace kvmsim::sim;

namespace kvmsim::cli {

int cmd_run(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim run [--backend model|kvm|qemu-x86|qemu-arm64] [--kernel P] [--apply X] [--revert X] [--format F] PATH...\n"
                                             "Runs every scenario (files, folders of *.json, or - for standard input) and checks its expectations.\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::vector<std::string> apply, revert, paths;
    std::string backend_name = "model", kernel, format;
    desc.add_options()("help,h", "this help")("backend", po::value(&backend_name),
                                               "model (default), kvm: the real /dev/kvm of this machine, or qemu-x86 / qemu-arm64: the real KVM of a QEMU-booted kernel; "
                                               "steps a real kernel cannot reproduce are skipped, with the reason")(
        "kernel", po::value(&kernel), "run against this profile instead of the scenario's")(
        "apply", po::value(&apply)->composing(), "apply a patch toggle on top of the profile (repeatable)")(
        "revert", po::value(&revert)->composing(), "revert a patch toggle (repeatable)");
    add_format_options(desc, format);
    QemuChoice qemu_choice;
    qemu_choice.add_options(desc);
    const po::variables_map vm = parse_command(desc, args, &paths);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    const Format fmt = format_of(vm, format);
    if (paths.empty()) throw po::error("no scenario given");
    if (vm.count("kernel")) check_profile_name(kernel);
    check_patch_names(apply);
    check_patch_names(revert);
    std::unique_ptr<Backend> backend = qemu_choice.make(backend_name, std::nullopt);
    if (!backend && backend_name != "model" && backend_name != "kvm")
        throw po::error("unknown backend \"" + backend_name + "\" (model, kvm, qemu-x86 or qemu-arm64)");
    if (!backend) backend = backend_name == "kvm" ? make_kvm_backend() : make_model_backend();

    Report report;
    report.command = "run";
    report.extra = {{"backend", backend_name}};
    RunOptions options;
    if (vm.count("kernel")) options.kernel = kernel;
    options.apply = apply;
    options.revert = revert;
    for_each_scenario(paths, report, [&](const std::string& file, const Scenario& s) {
        const auto runs = run_scenario(s, *backend, options);
        return run_result(file, s, runs, backend->notes());
    });
    write_report(std::cout, report, fmt);
    return exit_code(report);
}

int cmd_validate(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim validate [--format F] PATH...\n"
                                             "Checks scenarios against the format without running them and lists every error of each file.\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::vector<std::string> paths;
    std::string format;
    desc.add_options()("help,h", "this help");
    add_format_options(desc, format);
    const po::variables_map vm = parse_command(desc, args, &paths);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    const Format fmt = format_of(vm, format);
    if (paths.empty()) throw po::error("no scenario given");
    Report report;
    report.command = "validate";
    for_each_scenario(paths, report, [](const std::string& file, const Scenario& s) {
        FileResult f;
        f.file = file;
        f.name = s.name;
        CaseResult c;
        c.name = "format";
        c.checked = true;
        f.cases.push_back(c);
        return f;
    });
    write_report(std::cout, report, fmt);
    return exit_code(report);
}

}  // namespace kvmsim::cli
