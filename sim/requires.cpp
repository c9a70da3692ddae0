#include "requires.h"

#include "scenario.h"

namespace kvmsim::sim {
namespace {

struct FeatureInfo {
    CpuFeature feature;
    const char* name;
    const char* what;     // the architecture's name for it
    const char* missing;  // the ID register field a CPU without it shows
};

constexpr FeatureInfo kFeatures[] = {
    {CpuFeature::Hafdbs, "hafdbs", "FEAT_HAFDBS (hardware Access-flag updates, TCR_EL1.HA)", "ID_AA64MMFR1_EL1.HAFDBS = 0"},
    {CpuFeature::Lse, "lse", "FEAT_LSE (CAS and the other LSE atomics)", "ID_AA64ISAR0_EL1.Atomic < 2"},
    {CpuFeature::DcZva, "dc_zva", "DC ZVA allowed at EL1", "DCZID_EL0.DZP = 1"},
};

const FeatureInfo& info(CpuFeature f) {
    for (const FeatureInfo& i : kFeatures)
        if (i.feature == f) return i;
    return kFeatures[0];
}

}  // namespace

std::string_view to_string(CpuFeature f) { return info(f).name; }

std::optional<CpuFeature> cpu_feature_from_string(std::string_view name) {
    for (const FeatureInfo& i : kFeatures)
        if (name == i.name) return i.feature;
    return std::nullopt;
}

bool has_feature(const HostDescription& host, CpuFeature f) {
    switch (f) {
    case CpuFeature::Hafdbs: return host.arm64_hafdbs.value_or(true);
    case CpuFeature::Lse: return host.arm64_lse.value_or(true);
    case CpuFeature::DcZva: return host.arm64_dc_zva.value_or(true);
    }
    return false;
}

std::string describe_cpu_features(const HostDescription& host) {
    // An unread field is the platform's (present), and says so: a probe that read nothing shows.
    auto read = [&](CpuFeature f) {
        const std::optional<bool>& v = f == CpuFeature::Hafdbs ? host.arm64_hafdbs : f == CpuFeature::Lse ? host.arm64_lse : host.arm64_dc_zva;
        return v ? std::string(*v ? "1" : "0") : std::string("1 (the platform's, not read)");
    };
    std::string s;
    for (const FeatureInfo& i : kFeatures) s += std::string(s.empty() ? "" : ", ") + i.name + " " + read(i.feature);
    return s + " (DC ZVA block " + (host.arm64_dczva_block ? std::to_string(*host.arm64_dczva_block) : std::string("64, the platform's,")) + " bytes)";
}

std::vector<CpuFeature> parse_requires(const nlohmann::json& list, const std::string& path, const std::string& arch) {
    if (!list.is_array()) throw ScenarioError(path, "expected a list of CPU feature names (hafdbs, lse, dc_zva)");
    std::vector<CpuFeature> out;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string at = path + "/" + std::to_string(i);
        if (!list[i].is_string()) throw ScenarioError(at, "expected a CPU feature name (hafdbs, lse, dc_zva), got " + list[i].dump());
        const auto f = cpu_feature_from_string(list[i].get<std::string>());
        if (!f) throw ScenarioError(at, "unknown CPU feature \"" + list[i].get<std::string>() + "\" (expected hafdbs, lse or dc_zva)");
        if (arch != "arm64") throw ScenarioError(at, "\"" + list[i].get<std::string>() + "\" is an arm64 CPU feature; this scenario is " + arch);
        for (CpuFeature seen : out)
            if (seen == *f) throw ScenarioError(at, "\"" + list[i].get<std::string>() + "\" is listed twice");
        out.push_back(*f);
    }
    return out;
}

std::optional<std::string> unmet_requirement(const std::vector<CpuFeature>& features, const HostDescription& host) {
    for (CpuFeature f : features)
        if (!has_feature(host, f)) return std::string("requires ") + info(f).what + ": the CPU compared with lacks it (" + info(f).missing + ")";
    return std::nullopt;
}

}  // namespace kvmsim::sim
