#include "cli.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <sstream>

#include "model/profile/profile.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace kvmsim::cli {

const char* const kExitCodesHelp =
    "Exit codes: 0 everything checked held; 1 some check failed (an expectation, or the two sides disagree);\n"
    "2 bad input or usage (a scenario breaks the format, a path is missing, an unknown option);\n"
    "3 internal error (a bug in kvmsim); 4 nothing was checked (no scenario, no expectation, or every step skipped)";

Inputs collect(const std::vector<std::string>& paths) {
    Inputs in;
    for (const auto& p : paths) {
        std::error_code ec;
        if (p == "-") {
            in.files.push_back(p);
        } else if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (const auto& e : fs::recursive_directory_iterator(p, ec))
                if (e.is_regular_file() && e.path().extension() == ".json") found.push_back(e.path().string());
            std::sort(found.begin(), found.end());
            in.files.insert(in.files.end(), found.begin(), found.end());
        } else if (fs::exists(p, ec)) {
            in.files.push_back(p);
        } else {
            FileResult f;
            f.file = p;
            f.invalid = true;
            f.errors.push_back("no such file or folder");
            in.missing.push_back(f);
        }
    }
    return in;
}

po::variables_map parse_command(const po::options_description& desc, const std::vector<std::string>& args, std::vector<std::string>* paths) {
    po::options_description all;
    all.add(desc);
    po::positional_options_description pos;
    if (paths) {
        all.add_options()("path", po::value(paths));
        pos.add("path", -1);
    }
    po::variables_map vm;
    // "-" alone is a path (standard input), not an option.
    po::store(po::command_line_parser(args).options(all).positional(pos).style(po::command_line_style::default_style).run(), vm);
    po::notify(vm);
    return vm;
}

void add_format_options(po::options_description& desc, std::string& format) {
    desc.add_options()("format", po::value(&format), "text (default), json, ktap (the kernel's KTAP, as selftests print it) or junit (XML)")(
        "json", "the same as --format json");
}

Format format_of(const po::variables_map& vm, const std::string& format) {
    if (vm.count("json")) {
        if (vm.count("format") && format != "json") throw po::error("--json and --format " + format + " disagree");
        return Format::Json;
    }
    if (!vm.count("format")) return Format::Text;
    const auto f = format_from_string(format);
    if (!f) throw po::error("unknown format \"" + format + "\" (text, json, ktap or junit)");
    return *f;
}

std::optional<sim::Scenario> load(const std::string& file, std::vector<std::string>& errors) {
    auto add = [&errors](const sim::ScenarioError& e) { errors.push_back(e.what()); };
    try {
        if (file == "-") {
            const std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
            return sim::load_scenario_text(text, "-");
        }
        return sim::load_scenario(file);
    } catch (const sim::ScenarioErrors& all) {
        for (const auto& e : all.all()) add(e);
    } catch (const sim::ScenarioError& e) {
        add(e);
    }
    return std::nullopt;
}

void for_each_scenario(const std::vector<std::string>& paths, Report& report,
                       const std::function<FileResult(const std::string& file, const sim::Scenario& s)>& each) {
    Inputs in = collect(paths);
    report.files.insert(report.files.end(), in.missing.begin(), in.missing.end());
    for (const auto& file : in.files) {
      try {
        std::vector<std::string> errors;
        const auto loaded = load(file, errors);
        if (!loaded) {
            FileResult f;
            f.file = file;
            f.invalid = true;
            f.errors = errors;
            report.files.push_back(f);
            continue;
        }
        report.files.push_back(each(file, *loaded));
      } catch (const sim::ScenarioError& e) {
        FileResult f;  // refused while running (a backend's set-up): the file's fault
        f.file = file;
        f.invalid = true;
        f.errors = {e.what()};
        report.files.push_back(f);
      } catch (const std::exception& e) {
        // A bug in kvmsim on this file (a broken model invariant, say): named, and the other
        // files' results still stand.
        std::cerr << file << ": internal error: " << e.what() << "\n";
        FileResult f;
        f.file = file;
        f.internal = true;
        CaseResult c;
        c.name = "internal error";
        c.status = Status::Fail;
        c.checked = true;
        c.reason = std::string("internal error (a bug in kvmsim): ") + e.what();
        f.cases.push_back(c);
        report.files.push_back(f);
      }
    }
}

void check_patch_names(const std::vector<std::string>& names) {
    for (const auto& n : names)
        if (!patch_from_name(n)) throw po::error("unknown patch \"" + n + "\" (kvmsim profiles lists them)");
}

void check_profile_name(const std::string& name) {
    if (!find_profile(name)) throw po::error("unknown kernel profile \"" + name + "\" (kvmsim profiles lists them)");
}

std::uint64_t non_negative(const po::variables_map& vm, const char* key, std::uint64_t def, std::uint64_t max) {
    if (!vm.count(key)) return def;
    const std::string s = vm[key].as<std::string>();
    std::uint64_t v = 0;
    std::size_t used = 0;
    try {
        if (!s.empty() && s[0] != '-' && s[0] != '+') v = std::stoull(s, &used, 0);
    } catch (const std::exception&) {
        used = 0;
    }
    if (s.empty() || used != s.size() || v > max)
        throw po::error("--" + std::string(key) + " takes a whole number from 0 to " + std::to_string(max) + ", got \"" + s + "\"");
    return v;
}

}  // namespace kvmsim::cli
