#include "explain_html.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <ostream>
#include <regex>
#include <set>
#include <sstream>

#include "model/trace.h"

namespace kvmsim::cli {
namespace {

using sim::KernelRun;
using sim::Scenario;
using sim::StepReport;

std::string esc(const std::string& s) {
    std::string o;
    for (const char c : s) {
        switch (c) {
        case '&': o += "&amp;"; break;
        case '<': o += "&lt;"; break;
        case '>': o += "&gt;"; break;
        case '"': o += "&quot;"; break;
        default: o += (static_cast<unsigned char>(c) < 0x20 && c != '\n') ? ' ' : c;
        }
    }
    return o;
}

// A memslot as a picture needs it; flags as the kernel's bits (1 LOG_DIRTY_PAGES, 2 READONLY).
struct Slot {
    std::uint64_t gpa = 0, size = 0, hva = 0, flags = 0;
    bool operator==(const Slot&) const = default;
};
using Slots = std::map<std::uint64_t, Slot>;

std::uint64_t flag_bits(const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    std::uint64_t f = 0;
    auto one = [&f](const std::string& s) {
        if (s.find("READONLY") != std::string::npos) f |= 2;
        else if (s.find("LOG_DIRTY") != std::string::npos) f |= 1;
        else if (s.rfind("0x", 0) == 0) f |= std::stoull(s, nullptr, 16);
    };
    if (v.is_string()) one(v.get<std::string>());
    if (v.is_array())
        for (const auto& x : v)
            if (x.is_string()) one(x.get<std::string>());
    return f;
}

std::optional<std::uint64_t> field(const Scenario& s, const nlohmann::json& fields, const char* key) {
    if (!fields.contains(key)) return std::nullopt;
    try {
        return sim::parse_hva(fields.at(key), "", s.names);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

// The memslots after each step: from the step's own inputs when the kernel accepted it, or from
// the listing a VMM step hands back.
std::vector<Slots> slot_timeline(const Scenario& s, const KernelRun& run) {
    std::vector<Slots> out;
    Slots cur;
    for (const auto& st : run.steps) {
        const nlohmann::json& f = st.step->fields;
        if (st.step->op.rfind("KVM_SET_USER_MEMORY_REGION", 0) == 0 && st.actual == 0) {
            const auto slot = field(s, f, "slot"), size = field(s, f, "memory_size");
            if (slot && size && *size == 0) cur.erase(*slot);
            else if (slot && size)
                cur[*slot] = {field(s, f, "guest_phys_addr").value_or(0), *size, field(s, f, "userspace_addr").value_or(0), f.contains("flags") ? flag_bits(f["flags"]) : 0};
        }
        if (st.actual.is_object() && st.actual.contains("memslots") && st.actual["memslots"].is_array()) {
            cur.clear();
            for (const auto& m : st.actual["memslots"]) {
                auto num = [&m](const char* k) { return m.contains(k) && m[k].is_number_unsigned() ? m[k].get<std::uint64_t>() : 0; };
                cur[num("slot")] = {num("guest_phys_addr"), num("memory_size"), num("userspace_addr"), num("flags")};
            }
        }
        out.push_back(cur);
    }
    return out;
}

const char* slot_colour(std::uint64_t flags) {
    if ((flags & 3) == 3) return "#c39bd3";
    if (flags & 2) return "#f5b041";
    if (flags & 1) return "#82e0aa";
    return "#85c1e9";
}

void legend(std::ostream& os) {
    os << "<p class=\"legend\">";
    for (const auto& [flags, what] : std::vector<std::pair<std::uint64_t, const char*>>{{0, "read-write"}, {2, "KVM_MEM_READONLY"}, {1, "KVM_MEM_LOG_DIRTY_PAGES"}, {3, "read-only and logging"}})
        os << "<span style=\"background:" << slot_colour(flags) << "\">" << what << "</span> ";
    os << "</p>\n";
}

// Guest-physical addresses down, steps across: each slot a bar for as long as it stays the same.
void gpa_map(std::ostream& os, const std::vector<Slots>& timeline) {
    std::set<std::uint64_t> edges;
    for (const auto& t : timeline)
        for (const auto& [id, sl] : t) edges.insert(sl.gpa), edges.insert(sl.gpa + sl.size);
    os << "<h2 class=\"gpa-map\">Guest-physical map, step by step</h2>\n";
    if (edges.empty()) {
        os << "<p>No memslot exists at any step.</p>\n";
        return;
    }
    legend(os);
    // Equal bands between the addresses that matter, so a 4K slot beside a 4G one stays visible.
    const std::vector<std::uint64_t> e(edges.begin(), edges.end());
    const double band = std::clamp(360.0 / static_cast<double>(e.size()), 18.0, 40.0);
    const double left = 140, col = std::clamp(760.0 / static_cast<double>(timeline.size()), 14.0, 60.0);
    const double width = left + col * static_cast<double>(timeline.size()) + 20, height = band * static_cast<double>(e.size() - 1) + 50;
    auto y = [&](std::uint64_t a) { return 10 + band * static_cast<double>(std::lower_bound(e.begin(), e.end(), a) - e.begin()); };
    os << "<svg class=\"gpamap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" role=\"img\" aria-label=\"guest-physical map\">\n";
    for (const auto a : e)
        os << "<line x1=\"" << left - 4 << "\" x2=\"" << width - 10 << "\" y1=\"" << y(a) << "\" y2=\"" << y(a) << "\" class=\"grid\"/><text x=\"" << left - 8 << "\" y=\"" << y(a) + 4
           << "\" text-anchor=\"end\" class=\"addr\">" << hex(a) << "</text>\n";
    std::set<std::uint64_t> ids;
    for (const auto& t : timeline)
        for (const auto& [id, sl] : t) ids.insert(id);
    for (const auto id : ids) {
        std::size_t t = 0;
        while (t < timeline.size()) {
            const auto it = timeline[t].find(id);
            if (it == timeline[t].end()) {
                ++t;
                continue;
            }
            std::size_t end = t + 1;
            while (end < timeline.size() && timeline[end].contains(id) && timeline[end].at(id) == it->second) ++end;
            const Slot& sl = it->second;
            const double x = left + col * static_cast<double>(t), w = col * static_cast<double>(end - t) - 2, y0 = y(sl.gpa), h = std::max(4.0, y(sl.gpa + sl.size) - y0 - 2);
            os << "<g class=\"slot\"><title>slot " << id << ": gpa " << hex(sl.gpa) << " size " << hex(sl.size) << " hva " << hex(sl.hva) << " flags " << hex(sl.flags) << ", steps " << t
               << "-" << end - 1 << "</title><rect x=\"" << x << "\" y=\"" << y0 + 1 << "\" width=\"" << w << "\" height=\"" << h << "\" fill=\"" << slot_colour(sl.flags)
               << "\" stroke=\"#333\"/>";
            if (w > 40 && h > 12) os << "<text x=\"" << x + 4 << "\" y=\"" << y0 + 14 << "\">slot " << id << "</text>";
            os << "</g>\n";
            t = end;
        }
    }
    for (std::size_t t = 0; t < timeline.size(); ++t)
        if (timeline.size() <= 40 || t % 5 == 0)
            os << "<text x=\"" << left + col * static_cast<double>(t) + 2 << "\" y=\"" << height - 12 << "\" class=\"step\">" << t << "</text>";
    os << "<text x=\"" << left << "\" y=\"" << height - 1 << "\" class=\"axis\">step &#8594;</text></svg>\n";
}

struct Mapping {
    std::string name;
    std::uint64_t hva = 0, size = 0;
    std::string prot;
};

// Host mappings as bars, and under them every slot at the place of its hva.
void host_map(std::ostream& os, const Scenario& s, const std::vector<Slots>& timeline) {
    std::vector<Mapping> maps;
    for (const auto& m : s.mmaps) maps.push_back({m.name, m.hva, m.size, m.prot});
    for (const auto& st : s.steps)
        if (st.op == "host_mmap") {
            Mapping m;
            m.name = st.fields.value("name", std::string("(host_mmap, step ") + std::to_string(st.index) + ")");
            m.hva = field(s, st.fields, "hva").value_or(0);
            m.size = field(s, st.fields, "size").value_or(0);
            m.prot = st.fields.value("prot", std::string());
            maps.push_back(m);
        }
    os << "<h2 class=\"host-map\">Host mappings and the slots that point into them</h2>\n";
    if (maps.empty()) {
        os << "<p>The scenario maps no host memory.</p>\n";
        return;
    }
    std::map<std::pair<std::uint64_t, std::uint64_t>, Slot> slots;  // (id, hva) -> slot, every one seen
    for (const auto& t : timeline)
        for (const auto& [id, sl] : t) slots.emplace(std::make_pair(id, sl.hva), sl);
    const double w = 900, bar = w / static_cast<double>(maps.size());
    const double height = 90 + 26 * static_cast<double>(slots.size());
    os << "<svg class=\"hostmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w + 20 << "\" height=\"" << height << "\" role=\"img\" aria-label=\"host mappings\">\n";
    for (std::size_t i = 0; i < maps.size(); ++i) {
        const auto& m = maps[i];
        const double x = 10 + bar * static_cast<double>(i);
        os << "<g class=\"mapping\"><title>" << esc(m.name) << ": hva " << hex(m.hva) << " size " << hex(m.size) << " prot " << esc(m.prot) << "</title><rect x=\"" << x << "\" y=\"10\" width=\""
           << bar - 6 << "\" height=\"44\" fill=\"#d6eaf8\" stroke=\"#333\"/><text x=\"" << x + 4 << "\" y=\"27\">" << esc(m.name) << " (" << esc(m.prot) << ")</text><text x=\"" << x + 4
           << "\" y=\"45\" class=\"addr\">" << hex(m.hva) << " +" << hex(m.size) << "</text></g>\n";
    }
    double yy = 80;
    for (const auto& [key, sl] : slots) {
        std::string target = "no mapping (hva " + hex(sl.hva) + ")";
        double tx = 10;
        for (std::size_t i = 0; i < maps.size(); ++i)
            if (sl.hva >= maps[i].hva && sl.hva < maps[i].hva + maps[i].size) {
                target = maps[i].name + "+" + hex(sl.hva - maps[i].hva);
                tx = 10 + bar * static_cast<double>(i) + (bar - 6) * static_cast<double>(sl.hva - maps[i].hva) / static_cast<double>(std::max<std::uint64_t>(1, maps[i].size));
            }
        os << "<line x1=\"" << tx << "\" y1=\"54\" x2=\"" << tx << "\" y2=\"" << yy - 12 << "\" stroke=\"#555\" stroke-dasharray=\"3 2\"/><rect x=\"" << tx << "\" y=\"" << yy - 12
           << "\" width=\"10\" height=\"14\" fill=\"" << slot_colour(sl.flags) << "\" stroke=\"#333\"/><text x=\"" << tx + 14 << "\" y=\"" << yy << "\">slot " << key.first << " (gpa "
           << hex(sl.gpa) << ") &#8594; hva " << hex(sl.hva) << " = " << esc(target) << "</text>\n";
        yy += 26;
    }
    os << "</svg>\n";
}

// What each box on an access path is, from the kernel function that made it.
std::string kind_of(const TraceEvent& ev) {
    const std::string f(ev.function);
    if (f.find("accessed_dirty") != std::string::npos) return "A/D";
    if (f.find("walk") != std::string::npos || f.find("s1ptw") != std::string::npos) {
        static const std::regex level("^(PML5E|PML4E|PDPTE|PDE|PTE)");
        std::smatch m;
        if (std::regex_search(ev.detail, m, level)) return m[1];
        if (ev.detail.find("-> gpa") != std::string::npos) return "gpa";
        return "walk";
    }
    if (f.find("gfn_to_hva") != std::string::npos || f.find("memslot") != std::string::npos) return "slot→hva";
    if (f.find("pfn") != std::string::npos) return "pfn";
    if (f.find("exception") != std::string::npos) return "fault";
    if (f.find("mmio") != std::string::npos || f.find("emulat") != std::string::npos) return "access";
    return "kernel";
}

bool is_access(const std::string& op) {
    return op.rfind("guest_", 0) == 0 || op.rfind("vmm_guest_", 0) == 0 || op == "kvm_call";
}

// The chain gva -> levels -> gpa -> slot -> hva -> pfn -> outcome, pulled from the trace.
std::vector<std::pair<std::string, std::string>> chips(const StepReport& st) {
    std::vector<std::pair<std::string, std::string>> c;
    const auto& f = st.step->fields;
    for (const char* k : {"gva", "gpa", "ipa", "gfn"})
        if (f.contains(k)) c.emplace_back(k, f[k].is_string() ? f[k].get<std::string>() : sim::render(f[k]));
    static const std::regex gpa_re("-> gpa (0x[0-9a-f]+)"), slot_re("slot ([0-9:]+)"), hva_re("hva (0x[0-9a-f]+)"), pfn_re("pfn (0x[0-9a-f]+)");
    std::smatch m;
    std::string gpa, slot, hva, pfn;
    for (const auto& ev : st.trace) {
        const std::string k = kind_of(ev);
        if (k == "PML5E" || k == "PML4E" || k == "PDPTE" || k == "PDE" || k == "PTE") {
            // The entry's value when the walker read it; otherwise why it could not.
            static const std::regex value_re("\\) = (0x[0-9a-f]+)");
            std::string v = ev.detail.find("refused") != std::string::npos ? "refused" : ev.detail.find("fault") != std::string::npos ? "fault" : "read";
            if (std::regex_search(ev.detail, m, value_re)) v = "= " + m[1].str();
            c.emplace_back(k, v);
        }
        if (k == "A/D") {
            // The decision in a few words; the reason is in the trace list under the chips.
            static const std::regex set_re(": set ([AD+]+) by cmpxchg");
            const std::string level = ev.detail.substr(0, ev.detail.find(' '));
            std::string decision = "see trace";
            if (std::regex_search(ev.detail, m, set_re)) decision = "set " + m[1].str();
            else if (ev.detail.find("skipped") != std::string::npos) decision = "skipped: RO slot";
            else if (ev.detail.find("EPT overwrites") != std::string::npos) decision = "EPT writes ROM";
            else if (ev.detail.find("-EFAULT") != std::string::npos) decision = "write failed: #PF";
            else if (ev.detail.find("cmpxchg failed") != std::string::npos) decision = "raced: rewalk";
            c.emplace_back("A/D " + level, decision);
        }
        if (std::regex_search(ev.detail, m, gpa_re) && gpa.empty()) gpa = m[1];
        if (std::string(ev.function).find("gfn_to_hva") != std::string::npos) {
            if (std::regex_search(ev.detail, m, slot_re)) slot = m[1];
            if (std::regex_search(ev.detail, m, hva_re)) hva = m[1];
        }
        if (std::regex_search(ev.detail, m, pfn_re)) pfn = m[1];
    }
    if (!gpa.empty()) c.emplace_back("gpa", gpa);
    if (!slot.empty()) c.emplace_back("slot", slot);
    if (!hva.empty()) c.emplace_back("hva", hva);
    if (!pfn.empty()) c.emplace_back("pfn", pfn);
    // The outcome's headline: the data read, the exit, the errno, or the whole value.
    std::string out = st.skipped ? "skipped" : sim::render(st.actual);
    if (!st.skipped && st.actual.is_object()) {
        for (const char* k : {"exit", "fault", "stage2_fault", "data", "pfn", "hva", "ret"})
            if (st.actual.contains(k) && !(st.actual[k].is_boolean() && !st.actual[k].get<bool>())) {
                out = std::string(k) + " " + sim::render(st.actual[k]);
                break;
            }
        if (st.actual.contains("exits") && st.actual["exits"].is_array() && !st.actual["exits"].empty() && st.actual["exits"][0].contains("exit"))
            out = sim::render(st.actual["exits"][0]["exit"]) + (st.actual.contains("data") ? ", data " + sim::render(st.actual["data"]) : "");
    }
    c.emplace_back("outcome", out);
    return c;
}

void access_path(std::ostream& os, const StepReport& st) {
    os << "<div class=\"access\"><h3>step " << st.step->index << ": " << esc(st.step->op) << "</h3>\n";
    // The chain, in one row that wraps onto the next when long.
    const auto c = chips(st);
    const double cw = 150, chh = 40;
    const std::size_t per_row = 6, rows = (c.size() + per_row - 1) / per_row;
    os << "<svg class=\"path\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << per_row * (cw + 24) << "\" height=\"" << static_cast<double>(rows) * (chh + 16) + 4
       << "\" role=\"img\" aria-label=\"access path\">\n";
    for (std::size_t i = 0; i < c.size(); ++i) {
        const double x = 4 + static_cast<double>(i % per_row) * (cw + 24), y = 4 + static_cast<double>(i / per_row) * (chh + 16);
        // Red: a link of the path that broke, or an outcome that is not the expected one.
        const bool bad = c[i].first == "outcome" ? st.difference.has_value()
                                                 : c[i].second.find("fault") != std::string::npos || c[i].second.find("refused") != std::string::npos ||
                                                       c[i].second.find("failed") != std::string::npos;
        os << "<g class=\"chip\"><rect x=\"" << x << "\" y=\"" << y << "\" width=\"" << cw << "\" height=\"" << chh << "\" rx=\"6\" fill=\"" << (bad ? "#f5b7b1" : c[i].first.rfind("A/D", 0) == 0 ? "#fcf3cf" : "#eaf2f8")
           << "\" stroke=\"#333\"/><text x=\"" << x + 6 << "\" y=\"" << y + 15 << "\" class=\"kind\">" << esc(c[i].first) << "</text><text x=\"" << x + 6 << "\" y=\"" << y + 32
           << "\" class=\"val\">" << esc(c[i].second.size() > 20 ? c[i].second.substr(0, 19) + "…" : c[i].second) << "</text><title>" << esc(c[i].second) << "</title></g>\n";
        if (i + 1 < c.size() && (i + 1) % per_row != 0)
            os << "<line x1=\"" << x + cw << "\" y1=\"" << y + chh / 2 << "\" x2=\"" << x + cw + 22 << "\" y2=\"" << y + chh / 2 << "\" class=\"arrow\" marker-end=\"url(#arrow)\"/>\n";
    }
    os << "</svg>\n<ol class=\"trace\">";
    for (const auto& ev : st.trace)
        os << "<li><span class=\"k\">" << esc(kind_of(ev)) << "</span> <code>" << esc(std::string(ev.function)) << "</code>: " << esc(ev.detail) << "</li>";
    os << "</ol></div>\n";
}

// The flash device's command state machine: each distinct state a node, each transition the
// scenario took an arrow labelled with its step.
void flash_machine(std::ostream& os, const KernelRun& run) {
    std::vector<std::string> nodes;
    std::vector<std::tuple<std::size_t, std::size_t, std::string>> edges;
    std::string prev;
    auto state_of = [](const nlohmann::json& fl) {
        return fl.value("state", std::string("?")) + " / " + fl.value("read_mode", std::string("?")) + (fl.value("mapped", false) ? " (slot mapped)" : " (MMIO only)");
    };
    auto node = [&nodes](const std::string& n) {
        const auto it = std::find(nodes.begin(), nodes.end(), n);
        if (it != nodes.end()) return static_cast<std::size_t>(it - nodes.begin());
        nodes.push_back(n);
        return nodes.size() - 1;
    };
    for (const auto& st : run.steps) {
        if (!st.actual.is_object() || !st.actual.contains("flash") || !st.actual["flash"].is_object()) continue;
        const std::string now = state_of(st.actual["flash"]);
        const std::size_t to = node(now);
        if (!prev.empty() && prev != now) {
            std::string cmd = "step " + std::to_string(st.step->index);
            if (st.step->fields.contains("data")) cmd += ": " + (st.step->fields["data"].is_string() ? st.step->fields["data"].get<std::string>() : sim::render(st.step->fields["data"]));
            edges.emplace_back(node(prev), to, cmd);
        }
        prev = now;
    }
    if (nodes.empty()) return;
    os << "<h2 class=\"flash-title\">Flash command state machine (the path this scenario took)</h2>\n";
    // States on an ellipse, the first (where the scenario started) on the left; each transition
    // taken is one arrow, labelled with the steps (and the command byte written) that took it.
    std::map<std::pair<std::size_t, std::size_t>, std::string> labels;
    for (const auto& [from, to, label] : edges) {
        auto& l = labels[{from, to}];
        l += (l.empty() ? "" : "; ") + label;
    }
    const double nw = 310, nh = 40, rx = nodes.size() > 2 ? 300 : 200, ry = nodes.size() > 2 ? 150 : 0, cx = 470, cy = 40 + ry;
    const double pi = 3.14159265358979;
    auto centre = [&](std::size_t i) {
        const double a = pi + 2 * pi * static_cast<double>(i) / static_cast<double>(nodes.size());
        return std::make_pair(cx + rx * std::cos(a), cy + ry * std::sin(a));
    };
    // Where the line from a node's centre towards (dx, dy) leaves its box.
    auto exit_point = [&](std::pair<double, double> c, double dx, double dy) {
        const double len = std::hypot(dx, dy), ux = dx / len, uy = dy / len;
        const double t = std::min(std::abs(ux) > 1e-9 ? (nw / 2 + 4) / std::abs(ux) : 1e9, std::abs(uy) > 1e-9 ? (nh / 2 + 4) / std::abs(uy) : 1e9);
        return std::make_pair(c.first + ux * t, c.second + uy * t);
    };
    const double height = 2 * cy + 20;
    os << "<svg class=\"flash\" xmlns=\"http://www.w3.org/2000/svg\" width=\"940\" height=\"" << height << "\" role=\"img\" aria-label=\"flash state machine\">\n";
    for (const auto& [key, label] : labels) {
        const auto a = centre(key.first), b = centre(key.second);
        const double dx = b.first - a.first, dy = b.second - a.second, len = std::max(1.0, std::hypot(dx, dy));
        // Bend to the right of the direction of travel, so A->B and B->A do not overlap.
        const double mx = (a.first + b.first) / 2 - dy / len * 40, my = (a.second + b.second) / 2 + dx / len * 40;
        const auto p = exit_point(a, mx - a.first, my - a.second), q = exit_point(b, mx - b.first, my - b.second);
        os << "<path d=\"M" << p.first << "," << p.second << " Q" << mx << "," << my << " " << q.first << "," << q.second << "\" class=\"edge\" marker-end=\"url(#arrow)\"/>";
        os << "<text x=\"" << mx << "\" y=\"" << my << "\" text-anchor=\"middle\" class=\"edge-label\">" << esc(label.size() > 48 ? label.substr(0, 47) + "…" : label) << "<title>"
           << esc(label) << "</title></text>\n";
    }
    for (std::size_t i = 0; i < nodes.size(); ++i) {
        const auto [x, y] = centre(i);
        os << "<g class=\"state\"><rect x=\"" << x - nw / 2 << "\" y=\"" << y - nh / 2 << "\" width=\"" << nw << "\" height=\"" << nh << "\" rx=\"18\" fill=\"" << (i == 0 ? "#d5f5e3" : "#eaf2f8")
           << "\" stroke=\"#333\"/><text x=\"" << x << "\" y=\"" << y + 4 << "\" text-anchor=\"middle\">" << esc(nodes[i]) << "</text></g>\n";
    }
    os << "</svg>\n";
}

void steps_table(std::ostream& os, const KernelRun& run) {
    os << "<h2 class=\"steps-title\">Steps: expected and actual</h2>\n<table class=\"steps\"><tr><th>#</th><th>op and inputs</th><th>expected</th><th>actual</th><th>result</th></tr>\n";
    for (const auto& st : run.steps) {
        std::string in;
        for (const auto& [k, v] : st.step->fields.items())
            if (k != "op" && k != "expect" && k != "expect_on" && k != "comment") in += (in.empty() ? "" : ", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        const std::string result = st.skipped ? "skip" : st.bad_input ? "invalid" : st.difference ? "FAIL" : st.expected.is_null() ? "(no expectation)" : "ok";
        const std::string cls = st.skipped ? "skip" : (st.difference ? "fail" : st.expected.is_null() ? "none" : "pass");
        os << "<tr class=" << cls << "><td>" << st.step->index << "</td><td><b>" << esc(st.step->op) << "</b><br><small>" << esc(in) << "</small>";
        if (st.step->fields.contains("comment") && st.step->fields["comment"].is_string()) os << "<br><i>" << esc(st.step->fields["comment"].get<std::string>()) << "</i>";
        os << "</td><td><code>" << (st.expected.is_null() ? "" : esc(sim::render(st.expected))) << "</code></td><td><code>" << (st.skipped ? esc(st.skip_reason) : esc(sim::render(st.actual)))
           << "</code></td><td>" << esc(result) << (st.difference ? "<br><small>" + esc(*st.difference) + "</small>" : "") << "</td></tr>\n";
    }
    os << "</table>\n";
}

const char* kStyle = R"(body{font-family:sans-serif;margin:1.5em;max-width:1100px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}h3{font-size:1em;margin:.8em 0 .3em}
svg{display:block;margin:.5em 0;font-size:12px}svg text.addr,svg text.val{font-family:monospace}svg .grid{stroke:#ddd}
svg text.kind{font-weight:bold;fill:#1a5276}.arrow,.edge{stroke:#444;fill:none;stroke-width:1.4}.edge-label{font-size:11px;fill:#7b241c}
.legend span{padding:2px 6px;margin-right:6px;border:1px solid #333;font-size:12px}
table.steps{border-collapse:collapse;width:100%;font-size:13px}table.steps td,table.steps th{border:1px solid #ccc;padding:4px;vertical-align:top;text-align:left}
table.steps td:nth-child(3),table.steps td:nth-child(4){min-width:9em}tr.pass td:last-child{background:#d5f5e3}tr.fail td:last-child{background:#f5b7b1}tr.skip td:last-child{background:#fcf3cf}
code{font-size:12px;word-break:break-word}ol.trace{font-size:12px;margin:.2em 0 1em}ol.trace .k{display:inline-block;min-width:5em;color:#1a5276;font-weight:bold}
.summary{padding:.5em;background:#f4f6f7;border:1px solid #ccc})";

}  // namespace

void write_explain_html(std::ostream& os, const Scenario& s, const std::vector<KernelRun>& runs, const std::vector<std::string>& notes) {
    os << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>kvmsim explain: " << esc(s.name) << "</title><style>" << kStyle << "</style></head><body>\n";
    os << "<svg width=\"0\" height=\"0\" style=\"position:absolute\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
          "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#444\"/></marker></defs></svg>\n";
    os << "<h1>" << esc(s.name) << "</h1>\n<p class=\"description\">" << esc(s.description) << "</p>\n<p><small>file " << esc(s.file) << ", arch " << esc(s.arch) << ", platform "
       << esc(s.platform) << "</small></p>\n";
    for (const auto& n : notes) os << "<p class=\"note\">note: " << esc(n) << "</p>\n";
    for (const auto& run : runs) {
        std::size_t ok = 0, failed = 0, skipped = 0;
        for (const auto& st : run.steps) st.skipped ? ++skipped : st.difference ? ++failed : !st.expected.is_null() ? ++ok : 0;
        os << "<section class=\"kernel\"><h2 class=\"kernel-title\">kernel " << esc(run.profile) << "</h2>\n<p class=\"summary\">" << run.steps.size() << " steps: " << ok << " as expected, " << failed
           << " not as expected, " << skipped << " skipped</p>\n";
        if (run.setup_error) os << "<p class=\"setup-error\">setup refused: " << esc(*run.setup_error) << "</p>\n";
        const auto timeline = slot_timeline(s, run);
        gpa_map(os, timeline);
        host_map(os, s, timeline);
        flash_machine(os, run);
        os << "<h2 class=\"accesses\">Guest accesses: each one's path</h2>\n";
        std::size_t n = 0;
        for (const auto& st : run.steps)
            if (is_access(st.step->op)) access_path(os, st), ++n;
        if (!n) os << "<p>The scenario makes no guest access.</p>\n";
        steps_table(os, run);
        os << "</section>\n";
    }
    os << "</body></html>\n";
}

}  // namespace kvmsim::cli
