#include "report.h"

#include <map>
#include <ostream>

namespace kvmsim::cli {
namespace {

// KTAP descriptions cannot hold '#' (it starts the directive) nor line breaks.
std::string ktap_text(std::string s) {
    for (char& c : s)
        if (c == '#') c = '_';
        else if (c == '\n' || c == '\r') c = ' ';
    return s;
}

std::string xml_escape(const std::string& s) {
    std::string o;
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        case '\'': o += "&apos;"; break;
        default:
            // XML 1.0 forbids most control characters, even escaped.
            if (u < 0x20 && c != '\n' && c != '\t') o += ' ';
            else o += c;
        }
    }
    return o;
}

std::string joined(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
    return s;
}

const char* upper(Status s) {
    switch (s) {
    case Status::Pass: return "PASS";
    case Status::Fail: return "FAIL";
    case Status::Skip: return "SKIP";
    case Status::Invalid: return "INVALID";
    }
    return "?";
}

void write_text(std::ostream& os, const Report& r) {
    for (const auto& h : r.header) os << h << "\n";
    for (const auto& f : r.files) {
        const Status st = f.status();
        if (st == Status::Pass && !r.list_passes) continue;
        os << upper(st) << " " << f.file << "\n";
        for (const auto& e : f.errors) os << "  " << e << "\n";
        for (const auto& n : f.notes) os << "  note: " << n << "\n";
        std::map<std::string, std::size_t> skips;
        for (const auto& c : f.cases) {
            if (c.status == Status::Skip) ++skips[c.reason];
            if (c.status != Status::Fail && c.status != Status::Invalid) continue;
            os << "  " << c.name << ": " << c.reason << "\n";
            for (const auto& d : c.diag) os << "    " << d << "\n";
        }
        for (const auto& [why, n] : skips) os << "  " << n << " skipped: " << why << "\n";
    }
    const Summary s = summarize(r);
    os << s.passed << " passed, " << s.failed << " failed, " << s.skipped << " skipped, " << s.invalid << " invalid\n";
    for (const auto& l : r.footer) os << l << "\n";
    if (exit_code(r) == kExitNothingChecked) os << "nothing was checked (exit " << kExitNothingChecked << ")\n";
}

void write_json(std::ostream& os, const Report& r) {
    nlohmann::json out = r.extra;
    out["command"] = r.command;
    out["files"] = nlohmann::json::array();
    for (const auto& f : r.files) {
        nlohmann::json jf = f.detail;
        jf["file"] = f.file;
        if (!f.name.empty()) jf["name"] = f.name;
        jf["status"] = status_name(f.status());
        if (!f.errors.empty()) jf["errors"] = f.errors;
        if (!f.notes.empty()) jf["notes"] = f.notes;
        nlohmann::json cases = nlohmann::json::array();
        for (const auto& c : f.cases) {
            nlohmann::json jc = c.detail;
            jc["name"] = c.name;
            jc["status"] = status_name(c.status);
            if (!c.reason.empty()) jc[c.status == Status::Skip ? "skip_reason" : "reason"] = c.reason;
            if (!c.diag.empty()) jc["diagnostics"] = c.diag;
            cases.push_back(jc);
        }
        jf["cases"] = cases;
        out["files"].push_back(jf);
    }
    const Summary s = summarize(r);
    out["summary"] = {{"passed", s.passed}, {"failed", s.failed}, {"skipped", s.skipped}, {"invalid", s.invalid},
                      {"cases_checked", s.checked}, {"cases_skipped", s.cases_skipped}, {"exit", exit_code(r)}};
    // Scenario text is the user's: a byte that is not UTF-8 is replaced, never an exception.
    os << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

// Documentation/dev-tools/ktap.rst: version line, plan, one result line per test, nested tests
// indented two spaces with their own version line and plan, diagnostics as "# ..." lines.
void write_ktap(std::ostream& os, const Report& r) {
    os << "KTAP version 1\n";
    for (const auto& h : r.header) os << "# " << h << "\n";
    os << "1.." << r.files.size() << "\n";
    std::size_t n = 0;
    for (const auto& f : r.files) {
        ++n;
        const Status st = f.status();
        if (!f.cases.empty()) {
            os << "  KTAP version 1\n  # Subtest: " << ktap_text(f.file) << "\n  1.." << f.cases.size() << "\n";
            std::size_t i = 0;
            for (const auto& c : f.cases) {
                ++i;
                for (const auto& d : c.diag) os << "  # " << ktap_text(d) << "\n";
                if (c.status == Status::Fail || c.status == Status::Invalid) os << "  # " << ktap_text(c.reason) << "\n";
                os << "  " << (c.status == Status::Fail || c.status == Status::Invalid ? "not ok " : "ok ") << i << " " << ktap_text(c.name);
                if (c.status == Status::Skip) os << " # SKIP " << ktap_text(c.reason);
                os << "\n";
            }
        }
        for (const auto& e : f.errors) os << "# " << ktap_text(e) << "\n";
        for (const auto& note : f.notes) os << "# note: " << ktap_text(note) << "\n";
        os << (st == Status::Fail || st == Status::Invalid ? "not ok " : "ok ") << n << " " << ktap_text(f.file);
        if (st == Status::Skip) {
            std::string why;
            for (const auto& c : f.cases)
                if (c.status == Status::Skip) {
                    why = c.reason;
                    break;
                }
            os << " # SKIP " << ktap_text(why);
        } else if (st == Status::Invalid) {
            os << " # ERROR " << ktap_text(f.errors.empty() ? "bad scenario" : f.errors.front());
        }
        os << "\n";
    }
    const Summary s = summarize(r);
    os << "# " << s.passed << " passed, " << s.failed << " failed, " << s.skipped << " skipped, " << s.invalid << " invalid\n";
}

void write_junit(std::ostream& os, const Report& r) {
    std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
    for (const auto& f : r.files) {
        tests += f.invalid ? 1 : f.cases.size();
        errors += f.invalid ? 1 : 0;
        for (const auto& c : f.cases) {
            failures += c.status == Status::Fail;
            errors += c.status == Status::Invalid;
            skipped += c.status == Status::Skip;
        }
    }
    os << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    os << "<testsuites name=\"kvmsim " << xml_escape(r.command) << "\" tests=\"" << tests << "\" failures=\"" << failures << "\" errors=\"" << errors
       << "\" skipped=\"" << skipped << "\">\n";
    for (const auto& f : r.files) {
        std::size_t ff = 0, fs = 0, fe = f.invalid ? 1 : 0;
        for (const auto& c : f.cases) {
            ff += c.status == Status::Fail;
            fe += c.status == Status::Invalid;
            fs += c.status == Status::Skip;
        }
        os << "  <testsuite name=\"" << xml_escape(f.file) << "\" tests=\"" << (f.invalid ? 1 : f.cases.size()) << "\" failures=\"" << ff
           << "\" errors=\"" << fe << "\" skipped=\"" << fs << "\">\n";
        if (!f.notes.empty()) os << "    <system-out>" << xml_escape(joined(f.notes)) << "</system-out>\n";
        if (f.invalid) {
            os << "    <testcase classname=\"" << xml_escape(f.file) << "\" name=\"load\">\n      <error message=\""
               << xml_escape(f.errors.empty() ? "bad scenario" : f.errors.front()) << "\">" << xml_escape(joined(f.errors)) << "</error>\n    </testcase>\n";
        }
        for (const auto& c : f.cases) {
            os << "    <testcase classname=\"" << xml_escape(f.file) << "\" name=\"" << xml_escape(c.name) << "\"";
            if (c.status == Status::Pass) {
                os << "/>\n";
                continue;
            }
            os << ">\n";
            if (c.status == Status::Skip) os << "      <skipped message=\"" << xml_escape(c.reason) << "\"/>\n";
            else if (c.status == Status::Invalid) os << "      <error message=\"" << xml_escape(c.reason) << "\"/>\n";
            else
                os << "      <failure message=\"" << xml_escape(c.reason) << "\">" << xml_escape(joined(c.diag)) << "</failure>\n";
            os << "    </testcase>\n";
        }
        os << "  </testsuite>\n";
    }
    os << "</testsuites>\n";
}

}  // namespace

const char* status_name(Status s) {
    switch (s) {
    case Status::Pass: return "pass";
    case Status::Fail: return "fail";
    case Status::Skip: return "skip";
    case Status::Invalid: return "invalid";
    }
    return "?";
}

std::optional<Format> format_from_string(const std::string& s) {
    if (s == "text") return Format::Text;
    if (s == "json") return Format::Json;
    if (s == "ktap") return Format::Ktap;
    if (s == "junit") return Format::Junit;
    return std::nullopt;
}

Status FileResult::status() const {
    if (invalid) return Status::Invalid;
    bool any_checked = false, any_skipped = false;
    for (const auto& c : cases)
        if (c.status == Status::Invalid) return Status::Invalid;  // the step is wrong, not the kernel
    for (const auto& c : cases) {
        if (c.status == Status::Fail) return Status::Fail;
        any_checked |= c.checked;
        any_skipped |= c.status == Status::Skip;
    }
    return !any_checked && any_skipped ? Status::Skip : Status::Pass;
}

Summary summarize(const Report& r) {
    Summary s;
    for (const auto& f : r.files) {
        switch (f.status()) {
        case Status::Pass: ++s.passed; break;
        case Status::Fail: ++s.failed; break;
        case Status::Skip: ++s.skipped; break;
        case Status::Invalid: ++s.invalid; break;
        }
        for (const auto& c : f.cases) {
            s.checked += c.checked;
            s.cases_skipped += c.status == Status::Skip;
        }
    }
    return s;
}

int exit_code(const Report& r) {
    for (const auto& f : r.files)
        if (f.internal) return kExitInternal;
    const Summary s = summarize(r);
    if (s.invalid) return kExitBadInput;
    if (s.failed) return kExitFailed;
    if (s.checked == 0) return kExitNothingChecked;  // no expectation anywhere, or every step skipped
    return kExitOk;
}

void write_report(std::ostream& os, const Report& r, Format f) {
    switch (f) {
    case Format::Text: return write_text(os, r);
    case Format::Json: return write_json(os, r);
    case Format::Ktap: return write_ktap(os, r);
    case Format::Junit: return write_junit(os, r);
    }
}

}  // namespace kvmsim::cli
