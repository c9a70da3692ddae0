// One result shape for run, diff, fuzz and validate, written as text, JSON, KTAP or JUnit XML.
// A command (or a backend behind it) only fills FileResults; the formats, the summary counts
// and the exit code are decided here, once.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvmsim::cli {

// Exit codes, the same for every command (README "Exit codes", kvmsim help).
constexpr int kExitOk = 0, kExitFailed = 1, kExitBadInput = 2, kExitInternal = 3, kExitNothingChecked = 4;

enum class Status { Pass, Fail, Skip, Invalid };
const char* status_name(Status s);  // "pass", "fail", "skip", "invalid"

enum class Format { Text, Json, Ktap, Junit };
std::optional<Format> format_from_string(const std::string& s);

// One checked thing inside a file: a step on one kernel, a step compared on two backends, a
// random sequence.
struct CaseResult {
    std::string name;
    Status status = Status::Pass;
    bool checked = false;         // an expectation (or the other side) was compared
    std::string reason;           // skip reason, or the failure in one line
    std::vector<std::string> diag;  // more lines about a failure
    nlohmann::json detail = nlohmann::json::object();  // extra JSON fields (hex strings for addresses and data)
};

struct FileResult {
    std::string file;
    std::string name;
    std::vector<CaseResult> cases;
    std::vector<std::string> errors;  // bad input: every problem found in the file
    std::vector<std::string> notes;
    bool invalid = false;
    bool internal = false;  // kvmsim itself failed on this file (a bug): exit 3, the other files still reported
    nlohmann::json detail = nlohmann::json::object();
    // Fail if any case failed; Skip if nothing was checked and something was skipped.
    [[nodiscard]] Status status() const;
};

struct Report {
    std::string command;               // "run", "diff", "fuzz", "validate"
    std::vector<std::string> header;   // text lines before the results (text and KTAP diagnostics)
    std::vector<std::string> footer;   // text lines after the summary
    std::vector<FileResult> files;
    nlohmann::json extra = nlohmann::json::object();  // command-specific JSON fields
    bool list_passes = true;           // text: print a line for every passing file
    std::string unit = "file";         // what a FileResult is, for the summary ("file", "sequence")
};

struct Summary {
    std::size_t passed = 0, failed = 0, skipped = 0, invalid = 0, checked = 0, cases_skipped = 0;
};
Summary summarize(const Report& r);

// 2 if some input was bad, else 1 if something failed, else 4 if no case was checked (no
// expectation anywhere, or every step skipped), else 0.
int exit_code(const Report& r);

void write_report(std::ostream& os, const Report& r, Format f);

}  // namespace kvmsim::cli
