// What the kvmsim subcommands share: exit codes and the scenario file list.
#pragma once

#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "sim/scenario.h"

namespace kvmsim::cli {

namespace fs = std::filesystem;

constexpr int kExitOk = 0, kExitFailed = 1, kExitBadInput = 2, kExitInternal = 3;

// Files named on the command line, folders searched for *.json, in a stable order.
inline std::vector<std::string> collect(const std::vector<std::string>& paths, bool& missing) {
    std::vector<std::string> files;
    for (const auto& p : paths) {
        std::error_code ec;
        if (fs::is_directory(p, ec)) {
            std::vector<std::string> found;
            for (const auto& e : fs::recursive_directory_iterator(p, ec))
                if (e.is_regular_file() && e.path().extension() == ".json") found.push_back(e.path().string());
            std::sort(found.begin(), found.end());
            files.insert(files.end(), found.begin(), found.end());
        } else if (fs::exists(p, ec)) {
            files.push_back(p);
        } else {
            std::cerr << p << ": no such file or folder\n";
            missing = true;
        }
    }
    return files;
}

// Parses a subcommand's arguments; every bare argument is a "path".
inline boost::program_options::variables_map parse_command(const boost::program_options::options_description& desc,
                                                          const std::vector<std::string>& args) {
    namespace po = boost::program_options;
    po::positional_options_description pos;
    pos.add("path", -1);
    po::variables_map vm;
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
    return vm;
}

// Loads a scenario; a file that breaks the format is reported on stderr ("FILE: PATH: what")
// and gives nullopt, with the message in *error when asked for.
inline std::optional<sim::Scenario> load_reporting(const std::string& file, std::string* error = nullptr) {
    try {
        return sim::load_scenario(file);
    } catch (const sim::ScenarioError& e) {
        std::cerr << file << ": " << e.what() << "\n";
        if (error) *error = e.what();
        return std::nullopt;
    } catch (const std::exception& e) {
        // Not the file's fault: still named, so the other files' results stand.
        std::cerr << file << ": internal error while loading: " << e.what() << "\n";
        if (error) *error = std::string("internal error: ") + e.what();
        return std::nullopt;
    }
}

// Patch toggle names given on the command line must exist.
void check_patch_names(const std::vector<std::string>& names);

int cmd_diff(const std::vector<std::string>& args);
int cmd_fuzz(const std::vector<std::string>& args);

}  // namespace kvmsim::cli
