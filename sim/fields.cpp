#include "fields.h"

#include "model/kvm/caps.h"
#include "model/kvm/memslot.h"
#include "suggest.h"

namespace kvmsim::sim {

const nlohmann::json& StepFields::at(const char* key) const {
    if (!has(key)) throw ScenarioError(step_.path, "step \"" + step_.op + "\" needs the field \"" + key + "\"");
    return step_.fields.at(key);
}

std::uint64_t StepFields::u64(const char* key) const { return parse_number(at(key), path(key)); }

std::uint32_t StepFields::u32(const char* key) const {
    return static_cast<std::uint32_t>(parse_number(at(key), path(key), 0xffffffffu));
}

std::uint64_t StepFields::hva(const char* key) const { return parse_hva(at(key), path(key), scenario_.names); }

bool StepFields::boolean_or(const char* key, bool def) const {
    if (!has(key)) return def;
    if (!at(key).is_boolean()) throw ScenarioError(path(key), "expected true or false, got " + at(key).dump());
    return at(key).get<bool>();
}

std::string StepFields::string(const char* key) const {
    if (!at(key).is_string()) throw ScenarioError(path(key), "expected a string, got " + at(key).dump());
    return at(key).get<std::string>();
}

unsigned StepFields::access_size(const char* key) const {
    const std::uint64_t s = u64(key);
    if (s != 1 && s != 2 && s != 4 && s != 8) throw ScenarioError(path(key), "expected an access size of 1, 2, 4 or 8 bytes");
    return static_cast<unsigned>(s);
}

std::uint64_t StepFields::data(const char* key, unsigned size) const {
    const std::uint64_t max = size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (size * 8)) - 1;
    return parse_number(at(key), path(key), max);
}

namespace {
struct NamedFlag {
    const char* name;
    std::uint32_t bit;
};
constexpr NamedFlag kMemFlags[] = {
    {"KVM_MEM_LOG_DIRTY_PAGES", memflag::LogDirtyPages},
    {"KVM_MEM_READONLY", memflag::Readonly},
    {"KVM_MEM_GUEST_MEMFD", memflag::GuestMemfd},
};
}  // namespace

std::uint32_t StepFields::memslot_flags(const char* key) const {
    if (!has(key)) return 0;
    const nlohmann::json& v = at(key);
    if (!v.is_array()) return u32(key);
    std::uint32_t flags = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        const std::string p = path(key) + "/" + std::to_string(i);
        if (!v[i].is_string()) {
            flags |= static_cast<std::uint32_t>(parse_number(v[i], p, 0xffffffffu));
            continue;
        }
        bool found = false;
        for (const NamedFlag& f : kMemFlags)
            if (v[i].get<std::string>() == f.name) flags |= f.bit, found = true;
        if (!found) throw ScenarioError(p, "unknown flag " + v[i].dump() + " (expected KVM_MEM_LOG_DIRTY_PAGES, KVM_MEM_READONLY, KVM_MEM_GUEST_MEMFD or a number)");
    }
    return flags;
}

std::uint32_t StepFields::cap(const char* key) const {
    const nlohmann::json& v = at(key);
    if (v.is_string() && v.get<std::string>().rfind("KVM_CAP_", 0) == 0) {
        auto c = cap_from_string(v.get<std::string>());
        if (!c) {
            // Every named cap has a number below 512; to_string gives back the number for the rest.
            std::vector<std::string> names;
            for (std::uint32_t n = 0; n < 512; ++n)
                if (const std::string name = to_string(static_cast<Cap>(n)); name.rfind("KVM_CAP_", 0) == 0) names.push_back(name);
            throw ScenarioError(path(key), "unknown capability " + v.dump() + did_you_mean(v.get<std::string>(), names) +
                                               " (use a known KVM_CAP_ name or its number)");
        }
        return static_cast<std::uint32_t>(*c);
    }
    return u32(key);
}

namespace {
// Constants a KVM_ENABLE_CAP may name (include/uapi/linux/kvm.h and the lock RFC's UAPI).
constexpr NamedFlag kCapFlags[] = {
    {"KVM_ARM_LOCK_USER_MEMORY_REGION_FLAGS_LOCK", 1u << 0},
    {"KVM_ARM_LOCK_USER_MEMORY_REGION_FLAGS_UNLOCK", 1u << 1},
};
constexpr NamedFlag kCapArgs[] = {
    {"KVM_ARM_LOCK_MEM_READ", 1u << 0},
    {"KVM_ARM_LOCK_MEM_WRITE", 1u << 1},
    {"KVM_ARM_UNLOCK_MEM_ALL", 1u << 0},
};

template <std::size_t N>
std::uint64_t named_or_number(const nlohmann::json& v, const std::string& p, const NamedFlag (&names)[N], std::uint64_t max) {
    auto one = [&](const nlohmann::json& x, const std::string& xp) -> std::uint64_t {
        if (x.is_string() && x.get<std::string>().find('|') != std::string::npos) {
            // "A|B": names OR-ed as in C
            std::uint64_t out = 0;
            std::string rest = x.get<std::string>();
            for (std::size_t at = 0; at != std::string::npos;) {
                const std::size_t bar = rest.find('|', at);
                const std::string part = rest.substr(at, bar == std::string::npos ? std::string::npos : bar - at);
                bool found = false;
                for (const NamedFlag& f : names)
                    if (part == f.name) out |= f.bit, found = true;
                if (!found) throw ScenarioError(xp, "unknown name \"" + part + "\" in " + x.dump());
                at = bar == std::string::npos ? bar : bar + 1;
            }
            return out;
        }
        if (x.is_string())
            for (const NamedFlag& f : names)
                if (x.get<std::string>() == f.name) return f.bit;
        if (x.is_string() && x.get<std::string>().rfind("KVM_", 0) == 0) {
            std::string list;
            for (const NamedFlag& f : names) list += (list.empty() ? "" : ", ") + std::string(f.name);
            throw ScenarioError(xp, "unknown name " + x.dump() + " (expected a number or one of: " + list + ")");
        }
        return parse_number(x, xp, max);
    };
    if (!v.is_array()) return one(v, p);
    std::uint64_t out = 0;
    for (std::size_t i = 0; i < v.size(); ++i) out |= one(v[i], p + "/" + std::to_string(i));
    return out;
}
}  // namespace

std::array<std::uint64_t, 4> StepFields::args(const char* key) const {
    std::array<std::uint64_t, 4> out{};
    if (!has(key)) return out;
    const nlohmann::json& v = at(key);
    if (!v.is_array() || v.size() > 4) throw ScenarioError(path(key), "expected a list of up to 4 numbers");
    for (std::size_t i = 0; i < v.size(); ++i) out[i] = named_or_number(v[i], path(key) + "/" + std::to_string(i), kCapArgs, ~std::uint64_t{0});
    return out;
}

std::uint32_t StepFields::enable_cap_flags(const char* key) const {
    if (!has(key)) return 0;
    return static_cast<std::uint32_t>(named_or_number(at(key), path(key), kCapFlags, 0xffffffffu));
}

std::uint32_t parse_prot(const std::string& prot, const std::string& path) {
    if (prot == "") return 0;
    if (prot == "r") return 1;
    if (prot == "rw") return 3;
    if (prot == "rwx") return 7;
    if (prot == "rx") return 5;
    throw ScenarioError(path, "expected prot \"\", \"r\", \"rw\", \"rx\" or \"rwx\", got \"" + prot + "\"");
}

std::uint32_t StepFields::prot(const char* key) const { return parse_prot(string(key), path(key)); }

std::vector<std::string> StepFields::string_list(const char* key) const {
    std::vector<std::string> out;
    if (!has(key)) return out;
    const nlohmann::json& v = at(key);
    if (!v.is_array()) throw ScenarioError(path(key), "expected a list of strings");
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_string()) throw ScenarioError(path(key) + "/" + std::to_string(i), "expected a string");
        out.push_back(v[i].get<std::string>());
    }
    return out;
}

std::vector<std::uint64_t> StepFields::number_list(const char* key) const {
    std::vector<std::uint64_t> out;
    const nlohmann::json& v = at(key);
    if (!v.is_array()) throw ScenarioError(path(key), "expected a list of numbers");
    if (v.size() > (1u << 20)) throw ScenarioError(path(key), "list too long");
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(parse_number(v[i], path(key) + "/" + std::to_string(i)));
    return out;
}

}  // namespace kvmsim::sim
