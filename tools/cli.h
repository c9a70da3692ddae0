// What the kvmsim subcommands share: option parsing, the scenario file list, loading with every
// error kept, and the --format option.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "report.h"
#include "sim/scenario.h"

namespace kvmsim::cli {

// The exit codes, for every command's --help.
extern const char* const kExitCodesHelp;

// A named path, or a FileResult saying it does not exist; folders give their *.json files in a
// stable order; "-" is standard input.
struct Inputs {
    std::vector<std::string> files;
    std::vector<FileResult> missing;  // invalid results, one per path that is not there
};
Inputs collect(const std::vector<std::string>& paths);

// Parses a subcommand's arguments. Bare arguments go to *paths (hidden from --help); a command
// given no paths pointer refuses every bare argument.
boost::program_options::variables_map parse_command(const boost::program_options::options_description& desc, const std::vector<std::string>& args,
                                                    std::vector<std::string>* paths = nullptr);

// Adds --format (and --json, its old spelling) to desc; format_of reads them back.
void add_format_options(boost::program_options::options_description& desc, std::string& format);
Format format_of(const boost::program_options::variables_map& vm, const std::string& format);

// Loads a scenario ("-": standard input). On bad input gives nullopt and every error, each
// "PATH: what", in *errors.
std::optional<sim::Scenario> load(const std::string& file, std::vector<std::string>& errors);

// Every scenario the paths name, loaded: a missing path or a file that does not load becomes
// an invalid result in report.files; each loaded scenario goes to `each`, whose result is added.
void for_each_scenario(const std::vector<std::string>& paths, Report& report,
                       const std::function<FileResult(const std::string& file, const sim::Scenario& s)>& each);

// Patch toggle names given on the command line must exist.
void check_patch_names(const std::vector<std::string>& names);
// --kernel must name a profile.
void check_profile_name(const std::string& name);
// An integer option that must not be negative (boost would wrap "-1" into an unsigned).
std::uint64_t non_negative(const boost::program_options::variables_map& vm, const char* key, std::uint64_t def, std::uint64_t max);

int cmd_run(const std::vector<std::string>& args);
int cmd_validate(const std::vector<std::string>& args);
int cmd_explain(const std::vector<std::string>& args);
int cmd_diff(const std::vector<std::string>& args);
int cmd_fuzz(const std::vector<std::string>& args);
int cmd_serve(const std::vector<std::string>& args);

}  // namespace kvmsim::cli
