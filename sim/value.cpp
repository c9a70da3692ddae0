#include "value.h"

#include <cctype>
#include <charconv>

namespace kvmsim::sim {
namespace {

std::optional<std::uint64_t> parse_text(const std::string& s) {
    if (s.empty() || s.size() > 40) return std::nullopt;
    std::uint64_t value = 0;
    const char* begin = s.data();
    const char* end = s.data() + s.size();
    int base = 10;
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        begin += 2;
    }
    std::uint64_t scale = 1;
    if (base == 10) {
        switch (std::toupper(static_cast<unsigned char>(s.back()))) {
        case 'K': scale = std::uint64_t{1} << 10; --end; break;
        case 'M': scale = std::uint64_t{1} << 20; --end; break;
        case 'G': scale = std::uint64_t{1} << 30; --end; break;
        case 'T': scale = std::uint64_t{1} << 40; --end; break;
        default: break;
        }
    }
    if (begin == end) return std::nullopt;
    auto [ptr, ec] = std::from_chars(begin, end, value, base);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    if (value > ~std::uint64_t{0} / scale) return std::nullopt;
    return value * scale;
}

}  // namespace

std::uint64_t parse_number(const nlohmann::json& v, const std::string& path, std::uint64_t max) {
    std::optional<std::uint64_t> value;
    if (v.is_number_unsigned()) value = v.get<std::uint64_t>();
    else if (v.is_number_integer()) {
        if (v.get<std::int64_t>() < 0) throw ScenarioError(path, "expected a non-negative number, got " + v.dump());
        value = static_cast<std::uint64_t>(v.get<std::int64_t>());
    } else if (v.is_string()) value = parse_text(v.get<std::string>());
    else throw ScenarioError(path, "expected a number (integer, \"0x..\", decimal or size like \"4K\"), got " + v.dump());
    if (!value) throw ScenarioError(path, "expected a number (integer, \"0x..\", decimal or size like \"4K\"), got " + v.dump());
    if (*value > max) throw ScenarioError(path, "number " + v.dump() + " does not fit the field (max " + hex(max) + ")");
    return *value;
}

std::uint64_t parse_hva(const nlohmann::json& v, const std::string& path, const std::map<std::string, std::uint64_t>& names) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (!s.empty() && (std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) {
            const auto plus = s.find('+');
            const std::string name = s.substr(0, plus);
            auto it = names.find(name);
            if (it == names.end()) throw ScenarioError(path, "no host mapping named \"" + name + "\" (declare it in host.mmap or a host_mmap step)");
            std::uint64_t off = 0;
            if (plus != std::string::npos) off = parse_number(s.substr(plus + 1), path);
            if (off > ~std::uint64_t{0} - it->second) throw ScenarioError(path, "address overflows");
            return it->second + off;
        }
    }
    return parse_number(v, path);
}

}  // namespace kvmsim::sim
