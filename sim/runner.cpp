#include "runner.h"

#include <cctype>
#include <set>

namespace kvmsim::sim {
namespace {

const std::set<std::string> kHexKeys = {"data", "phys_addr", "hva", "gpa", "pfn", "cr2", "error_code", "flags", "reply", "guest_phys_addr",
                                        "memory_size", "userspace_addr", "base", "sr", "far", "esr_iss", "fault_ipa", "fsc"};

std::uint8_t vector_number(const nlohmann::json& v) {
    if (v.is_string()) {
        static const std::pair<const char*, std::uint8_t> names[] = {{"DE", 0}, {"UD", 6}, {"DF", 8}, {"GP", 13}, {"PF", 14},
                                                                       {"IABT", 0x21}, {"DABT", 0x25}};  // arm64: ESR_ELx.EC
        for (auto [n, num] : names)
            if (v.get<std::string>() == n) return num;
    }
    return static_cast<std::uint8_t>(parse_number(v, "vector", 255));
}

std::optional<std::string> compare_at(const nlohmann::json& exp, const nlohmann::json& act, const std::string& where) {
    auto differ = [&] { return (where.empty() ? std::string("outcome") : where) + ": expected " + render(exp) + ", got " + render(act); };
    if (exp.is_object()) {
        if (!act.is_object()) return differ();
        for (const auto& [key, value] : exp.items()) {
            const std::string w = where.empty() ? key : where + "." + key;
            // A real kernel cannot tell userspace whether an access took a stage-2 fault.
            if (key == "stage2_fault" && !act.contains(key) && !act.contains("step_error")) continue;
            if (!act.contains(key)) return w + ": expected " + render(value) + ", got nothing (outcome " + render(act) + ")";
            if (key == "vector") {
                if (vector_number(value) != act.at(key).get<std::uint64_t>()) return w + ": expected " + render(value) + ", got " + render(act.at(key));
                continue;
            }
            if (key == "dirty_pages") {
                std::set<std::uint64_t> e, a;
                for (const auto& p : value) e.insert(parse_number(p, w));
                for (const auto& p : act.at(key)) a.insert(p.get<std::uint64_t>());
                if (e != a) return w + ": expected " + render(value) + ", got " + render(act.at(key));
                continue;
            }
            if (auto d = compare_at(value, act.at(key), w)) return d;
        }
        return std::nullopt;
    }
    if (exp.is_array() && act.is_array()) {
        // Lists compare entry by entry, so numbers in any spelling and partial objects work.
        if (exp.size() != act.size()) return differ();
        for (std::size_t i = 0; i < exp.size(); ++i)
            if (auto d = compare_at(exp[i], act[i], where + "[" + std::to_string(i) + "]")) return d;
        return std::nullopt;
    }
    if (exp.is_boolean()) return act.is_boolean() && act == exp ? std::nullopt : std::optional(differ());
    if (exp.is_number() || (exp.is_string() && !exp.get<std::string>().empty() &&
                            (std::isdigit(static_cast<unsigned char>(exp.get<std::string>()[0]))))) {
        if (!act.is_number()) return differ();
        return parse_number(exp, where) == act.get<std::uint64_t>() ? std::nullopt : std::optional(differ());
    }
    return exp == act ? std::nullopt : std::optional(differ());
}

std::string render_at(const nlohmann::json& v, const std::string& key) {
    if (v.is_object()) {
        std::string s = "{";
        bool first = true;
        for (const auto& [k, val] : v.items()) {
            s += (first ? "" : ", ") + k + ": " + render_at(val, k);
            first = false;
        }
        return s + "}";
    }
    if (v.is_array()) {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + render_at(v[i], "");
        return s + "]";
    }
    if (v.is_number_unsigned() && kHexKeys.contains(key)) return hex(v.get<std::uint64_t>());
    if (v.is_string()) return v.get<std::string>();
    return v.dump();
}

nlohmann::json hexify_at(const nlohmann::json& v, const std::string& key) {
    if (v.is_object()) {
        nlohmann::json o = nlohmann::json::object();
        for (const auto& [k, val] : v.items()) o[k] = hexify_at(val, k);
        return o;
    }
    if (v.is_array()) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& x : v) a.push_back(hexify_at(x, key));
        return a;
    }
    if (v.is_number_unsigned() && kHexKeys.contains(key)) return hex(v.get<std::uint64_t>());
    return v;
}

}  // namespace

nlohmann::json hexify(const nlohmann::json& v) { return hexify_at(v, "data"); }

std::string render(const nlohmann::json& v) { return render_at(v, "data"); }

std::optional<std::string> compare(const nlohmann::json& expected, const nlohmann::json& actual) {
    try {
        return compare_at(expected, actual, "");
    } catch (const ScenarioError& e) {
        return std::string("expectation unreadable: ") + e.what();
    }
}

std::size_t KernelRun::failures() const {
    std::size_t n = setup_error ? 1 : 0;
    for (const auto& s : steps) n += s.difference ? 1 : 0;
    return n;
}

std::vector<KernelRun> run_scenario(const Scenario& s, Backend& backend, const RunOptions& options) {
    std::vector<std::string> kernels = options.kernel ? std::vector{*options.kernel} : s.kernels;
    std::vector<KernelRun> runs;
    for (const std::string& profile : kernels) {
        KernelRun run;
        run.profile = profile;
        RunConfig config{profile, s.apply, s.revert, options.trace, options.platform, options.host};
        config.apply.insert(config.apply.end(), options.apply.begin(), options.apply.end());
        config.revert.insert(config.revert.end(), options.revert.begin(), options.revert.end());
        try {
            backend.start(s, config);
        } catch (const ScenarioError& e) {
            run.setup_error = e.what();
            runs.push_back(std::move(run));
            continue;
        }
        for (const Step& step : s.steps) {
            StepReport rep;
            rep.step = &step;
            StepResult res;
            try {
                res = backend.run(step);
            } catch (const NotModelled& e) {
                res.skipped = true;
                res.skip_reason = e.why();
            } catch (const ScenarioError& e) {
                rep.difference = std::string("step cannot run: ") + e.what();
                rep.bad_input = true;
                run.steps.push_back(std::move(rep));
                continue;
            }
            rep.actual = std::move(res.actual);
            rep.trace = std::move(res.trace);
            rep.skipped = res.skipped;
            rep.skip_reason = res.skip_reason;
            if (const nlohmann::json* e = step.expectation(profile)) {
                rep.expected = *e;
                if (!rep.skipped) rep.difference = compare(*e, rep.actual);
            }
            run.steps.push_back(std::move(rep));
        }
        runs.push_back(std::move(run));
    }
    return runs;
}

}  // namespace kvmsim::sim
