// kvmsim explain: one scenario, step by step, with the kernel functions each step went through.
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.h"
#include "explain_html.h"
#include "sim/runner.h"

namespace po = boost::program_options;
using namespace kvmsim::sim;

namespace kvmsim::cli {
namespace {

constexpr std::size_t kWidth = 100;

// Writes text after `first` (the first line's prefix), breaking at spaces so no line passes
// kWidth; continuation lines start with `indent`.
void wrapped(std::ostream& os, const std::string& first, const std::string& indent, const std::string& text) {
    std::string line = first;
    std::istringstream words(text);
    std::string w;
    bool empty = true;
    while (words >> w) {
        if (!empty && line.size() + 1 + w.size() > kWidth) {
            os << line << "\n";
            line = indent;
            empty = true;
        }
        // A word longer than a line (a JSON value without spaces) is cut where the line ends.
        while (line.size() + (empty ? 0 : 1) + w.size() > kWidth && kWidth > line.size() + 20) {
            const std::size_t room = kWidth - line.size() - (empty ? 0 : 1);
            os << line << (empty ? "" : " ") << w.substr(0, room) << "\n";
            w = w.substr(room);
            line = indent;
            empty = true;
        }
        line += (empty ? "" : " ") + w;
        empty = false;
    }
    os << line << "\n";
}

// The step's inputs, as written in the scenario (without op, expect and comment).
std::string inputs_of(const Step& st) {
    std::string s;
    for (const auto& [k, v] : st.fields.items()) {
        if (k == "op" || k == "expect" || k == "expect_on" || k == "comment") continue;
        s += (s.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    return s;
}

void write_text(std::ostream& os, const Scenario& s, const std::vector<KernelRun>& runs, const std::vector<std::string>& notes) {
    wrapped(os, "", "", s.name);
    os << "\n";
    wrapped(os, "", "", s.description);
    for (const auto& run : runs) {
        os << "\n=== kernel " << run.profile << " (platform " << s.platform << ") ===\n";
        if (run.setup_error) wrapped(os, "setup refused: ", "  ", *run.setup_error);
        for (const auto& note : notes) wrapped(os, "note: ", "  ", note);
        for (const auto& st : run.steps) {
            os << "\nstep " << st.step->index << ": " << st.step->op << "\n";
            if (st.step->fields.contains("comment") && st.step->fields["comment"].is_string())
                wrapped(os, "  # ", "  # ", st.step->fields["comment"].get<std::string>());
            if (const std::string in = inputs_of(*st.step); !in.empty()) wrapped(os, "  inputs: ", "          ", in);
            for (const auto& ev : st.trace) wrapped(os, "    " + std::string(ev.function) + ": ", "        ", ev.detail);
            if (st.skipped) {
                wrapped(os, "  skipped: ", "    ", st.skip_reason);
                continue;
            }
            wrapped(os, "  -> ", "     ", render(st.actual));
            if (!st.expected.is_null()) {
                if (st.difference) wrapped(os, "  MISMATCH: ", "    ", *st.difference);
                else os << "  as expected\n";
            }
        }
    }
}

}  // namespace

int cmd_explain(const std::vector<std::string>& args) {
    po::options_description desc(std::string("kvmsim explain [--kernel P] [--backend model|kvm] [--html OUT] FILE\n"
                                             "Runs one scenario (FILE, or - for standard input) and shows, for each step, its inputs, its comment,\n"
                                             "the kernel functions it went through and why it ended as it did.\n") +
                                 kExitCodesHelp + "\n\nOptions");
    std::vector<std::string> paths;
    std::string kernel, backend_name = "model", html;
    desc.add_options()("help,h", "this help")("kernel", po::value(&kernel), "explain the run against this profile")(
        "backend", po::value(&backend_name), "model (default), or kvm: show the ioctls and exits on this machine's /dev/kvm")(
        "html", po::value(&html), "write one self-contained HTML page (pictures of the memory map, each access's path, the steps) to OUT (- for standard output)");
    const po::variables_map vm = parse_command(desc, args, &paths);
    if (vm.count("help")) return std::cout << desc << "\n", kExitOk;
    if (paths.size() != 1) throw po::error("explain takes exactly one scenario file");
    if (vm.count("kernel")) check_profile_name(kernel);
    if (backend_name != "model" && backend_name != "kvm") throw po::error("unknown backend \"" + backend_name + "\" (model or kvm)");
    std::vector<std::string> errors;
    const auto loaded = load(paths[0], errors);
    if (!loaded) {
        for (const auto& e : errors) std::cerr << paths[0] << ": " << e << "\n";
        return kExitBadInput;
    }
    const Scenario& s = *loaded;
    auto backend = backend_name == "kvm" ? make_kvm_backend() : make_model_backend();
    RunOptions options;
    if (vm.count("kernel")) options.kernel = kernel;
    options.trace = true;
    const auto runs = run_scenario(s, *backend, options);
    const auto notes = backend->notes();
    if (vm.count("html")) {
        if (html == "-") {
            write_explain_html(std::cout, s, runs, notes);
        } else {
            std::ofstream out(html);
            if (!out) throw po::error("cannot write " + html);
            write_explain_html(out, s, runs, notes);
            if (!out.flush()) throw po::error("cannot write " + html);
            std::cout << "wrote " << html << "\n";
        }
    } else {
        write_text(std::cout, s, runs, notes);
    }
    std::size_t fails = 0, checked = 0, bad = 0;
    for (const auto& run : runs) {
        fails += run.failures();
        for (const auto& st : run.steps) checked += !st.skipped && !st.expected.is_null(), bad += st.bad_input;
    }
    if (bad) return kExitBadInput;
    if (fails) return kExitFailed;
    (void)checked;
    return kExitOk;
}

}  // namespace kvmsim::cli
