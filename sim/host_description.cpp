#include "host_description.h"

#include "scenario.h"
#include "value.h"

namespace kvmsim::sim {
namespace {

unsigned bounded(const nlohmann::json& v, const std::string& path, std::uint64_t lo, std::uint64_t hi) {
    const std::uint64_t n = parse_number(v, path, hi);
    if (n < lo) throw ScenarioError(path, "expected a number from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + v.dump());
    return static_cast<unsigned>(n);
}

std::string maybe(const std::optional<unsigned>& v) { return v ? std::to_string(*v) : std::string("the platform's"); }

std::optional<ThpMode> thp_from_string(const std::string& s) {
    if (s == "always") return ThpMode::Always;
    if (s == "madvise") return ThpMode::Madvise;
    if (s == "never") return ThpMode::Never;
    return std::nullopt;
}

}  // namespace

ThpMode parse_thp_enabled(const std::string& sysfs) {
    const auto open = sysfs.find('[');
    const auto close = open == std::string::npos ? std::string::npos : sysfs.find(']', open);
    if (close == std::string::npos) return ThpMode::Never;
    return thp_from_string(sysfs.substr(open + 1, close - open - 1)).value_or(ThpMode::Never);
}

const char* to_string(ThpMode mode) {
    switch (mode) {
        case ThpMode::Always: return "always";
        case ThpMode::Madvise: return "madvise";
        case ThpMode::Never: return "never";
    }
    return "never";
}

HostDescription describe_host(const HostFacts& f) {
    HostDescription h;
    h.guest_memfd = f.guest_memfd_cap > 0;
    h.guest_maxphyaddr = f.cpuid_maxphyaddr;
    h.host_maxphyaddr = f.cpuinfo_phys_bits;
    h.online_cpus = f.online_cpus > 0 ? static_cast<unsigned>(f.online_cpus) : 1;
    // Without a VM the cap answers KVM_MAX_NR_ADDRESS_SPACES, compiled in only with CONFIG_KVM_SMM.
    h.kvm_smm = f.multi_address_space_cap >= 2;
    if (f.max_vcpus_cap > 0) h.max_vcpus = static_cast<unsigned>(f.max_vcpus_cap);
    // kvm_supported_mem_attributes(NULL) is KVM_MEMORY_ATTRIBUTE_PRIVATE wherever the case is built.
    h.memory_attributes = f.memory_attributes_cap > 0;
    // Before 6.8 the cap is unknown (0) and only the default type exists.
    h.vm_types = f.vm_types_cap > 0 ? static_cast<unsigned>(f.vm_types_cap) : 1u;
    h.guest_la57 = f.cpuid_la57;
    // arm64 (Arm ARM D19.2): HAFDBS 0b0001 AF only, 0b0010 AF and dirty state; Atomic 0b0010 LSE;
    // DCZID_EL0.DZP bit 4, BS bits 3:0 (log2 of the block in words).
    if (f.id_aa64mmfr1) h.arm64_hafdbs = (*f.id_aa64mmfr1 & 0xf) != 0;
    if (f.id_aa64isar0) h.arm64_lse = ((*f.id_aa64isar0 >> 20) & 0xf) >= 2;
    if (f.dczid) {
        h.arm64_dc_zva = !(*f.dczid & 0x10);
        h.arm64_dczva_block = 4u << (*f.dczid & 0xf);
    }
    h.transparent_hugepage = parse_thp_enabled(f.thp_enabled);
    return h;
}

HostPins parse_host_pins(const nlohmann::json& obj, const std::string& path) {
    if (!obj.is_object()) throw ScenarioError(path, "expected an object with guest_memfd, guest_maxphyaddr, host_maxphyaddr, online_cpus, smm, max_vcpus, memory_attributes, vm_types, guest_la57, hafdbs, lse, dc_zva, dczva_block or transparent_hugepage");
    HostPins p;
    for (const auto& [key, v] : obj.items()) {
        const std::string at = path + "/" + key;
        if (key == "guest_memfd") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the kernel was built with CONFIG_KVM_GUEST_MEMFD)");
            p.guest_memfd = v.get<bool>();
        } else if (key == "guest_maxphyaddr") {
            p.guest_maxphyaddr = bounded(v, at, 32, 52);
        } else if (key == "host_maxphyaddr") {
            p.host_maxphyaddr = bounded(v, at, 32, 52);
        } else if (key == "online_cpus") {
            p.online_cpus = bounded(v, at, 1, 65536);
        } else if (key == "smm") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the kernel was built with CONFIG_KVM_SMM)");
            p.smm = v.get<bool>();
        } else if (key == "max_vcpus") {
            p.max_vcpus = bounded(v, at, 1, 4096);
        } else if (key == "memory_attributes") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the kernel was built with CONFIG_KVM_GENERIC_MEMORY_ATTRIBUTES)");
            p.memory_attributes = v.get<bool>();
        } else if (key == "vm_types") {
            p.vm_types = bounded(v, at, 1, 63);
            if (!(*p.vm_types & 1)) throw ScenarioError(at, "expected a mask of 1 << KVM_X86_*_VM that includes the default type (bit 0)");
        } else if (key == "guest_la57") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the guest's CPUID may have LA57)");
            p.guest_la57 = v.get<bool>();
        } else if (key == "hafdbs" || key == "lse" || key == "dc_zva") {
            if (!v.is_boolean()) throw ScenarioError(at, "expected true or false (whether the arm64 CPU has " + key + ")");
            (key == "hafdbs" ? p.hafdbs : key == "lse" ? p.lse : p.dc_zva) = v.get<bool>();
        } else if (key == "dczva_block") {
            const unsigned b = bounded(v, at, 4, 2048);
            if (b & (b - 1)) throw ScenarioError(at, "expected a power of two from 4 to 2048 (4 << DCZID_EL0.BS), got " + v.dump());
            p.dczva_block = b;
        } else if (key == "transparent_hugepage") {
            const auto mode = v.is_string() ? thp_from_string(v.get<std::string>()) : std::nullopt;
            if (!mode) throw ScenarioError(at, "expected \"always\", \"madvise\" or \"never\" (/sys/kernel/mm/transparent_hugepage/enabled), got " + v.dump());
            p.transparent_hugepage = mode;
        } else {
            throw ScenarioError(at, "unknown key (expected guest_memfd, guest_maxphyaddr, host_maxphyaddr, online_cpus, smm, max_vcpus, memory_attributes, vm_types, guest_la57, hafdbs, lse, dc_zva, dczva_block or transparent_hugepage)");
        }
    }
    return p;
}

HostDescription pinned(HostDescription base, const HostPins& pins) {
    if (pins.guest_memfd) base.guest_memfd = *pins.guest_memfd;
    if (pins.guest_maxphyaddr) base.guest_maxphyaddr = pins.guest_maxphyaddr;
    if (pins.host_maxphyaddr) base.host_maxphyaddr = pins.host_maxphyaddr;
    if (pins.online_cpus) base.online_cpus = *pins.online_cpus;
    if (pins.smm) base.kvm_smm = pins.smm;
    if (pins.max_vcpus) base.max_vcpus = *pins.max_vcpus;
    if (pins.memory_attributes) base.memory_attributes = *pins.memory_attributes;
    if (pins.vm_types) base.vm_types = pins.vm_types;
    if (pins.guest_la57) base.guest_la57 = pins.guest_la57;
    if (pins.hafdbs) base.arm64_hafdbs = pins.hafdbs;
    if (pins.lse) base.arm64_lse = pins.lse;
    if (pins.dc_zva) base.arm64_dc_zva = pins.dc_zva;
    if (pins.dczva_block) base.arm64_dczva_block = pins.dczva_block;
    if (pins.transparent_hugepage) base.transparent_hugepage = *pins.transparent_hugepage;
    return base;
}

std::optional<std::string> pin_conflict(const HostPins& pins, const HostDescription& host) {
    std::string why;
    auto differs = [&](const char* key, const std::string& want, const std::string& have) {
        if (want == have) return;
        why += std::string(why.empty() ? "" : ", ") + key + " " + want + " (this host: " + have + ")";
    };
    if (pins.guest_memfd) differs("guest_memfd", *pins.guest_memfd ? "1" : "0", host.guest_memfd ? "1" : "0");
    if (pins.guest_maxphyaddr) differs("guest_maxphyaddr", std::to_string(*pins.guest_maxphyaddr), maybe(host.guest_maxphyaddr));
    if (pins.host_maxphyaddr) differs("host_maxphyaddr", std::to_string(*pins.host_maxphyaddr), maybe(host.host_maxphyaddr));
    if (pins.online_cpus) differs("online_cpus", std::to_string(*pins.online_cpus), std::to_string(host.online_cpus));
    if (pins.smm) differs("smm", *pins.smm ? "1" : "0", host.kvm_smm ? (*host.kvm_smm ? "1" : "0") : "the platform's");
    if (pins.max_vcpus) differs("max_vcpus", std::to_string(*pins.max_vcpus), std::to_string(host.max_vcpus));
    if (pins.memory_attributes) differs("memory_attributes", *pins.memory_attributes ? "1" : "0", host.memory_attributes ? "1" : "0");
    if (pins.vm_types) differs("vm_types", std::to_string(*pins.vm_types), maybe(host.vm_types));
    if (pins.guest_la57) differs("guest_la57", *pins.guest_la57 ? "1" : "0", host.guest_la57 ? (*host.guest_la57 ? "1" : "0") : "the platform's");
    auto feature = [](const std::optional<bool>& b) { return std::string(b.value_or(true) ? "1" : "0"); };
    if (pins.hafdbs) differs("hafdbs", *pins.hafdbs ? "1" : "0", feature(host.arm64_hafdbs));
    if (pins.lse) differs("lse", *pins.lse ? "1" : "0", feature(host.arm64_lse));
    if (pins.dc_zva) differs("dc_zva", *pins.dc_zva ? "1" : "0", feature(host.arm64_dc_zva));
    if (pins.dczva_block) differs("dczva_block", std::to_string(*pins.dczva_block), std::to_string(host.arm64_dczva_block.value_or(64)));
    if (pins.transparent_hugepage) differs("transparent_hugepage", to_string(*pins.transparent_hugepage), to_string(host.transparent_hugepage));
    if (why.empty()) return std::nullopt;
    return "the scenario pins vm.host " + why;
}

std::string describe(const HostDescription& host) {
    return "guest_memfd " + std::string(host.guest_memfd ? "1" : "0") + ", guest_maxphyaddr " + maybe(host.guest_maxphyaddr) + ", host_maxphyaddr " +
           maybe(host.host_maxphyaddr) + ", online_cpus " + std::to_string(host.online_cpus) + ", smm " +
           (host.kvm_smm ? (*host.kvm_smm ? "1" : "0") : "the platform's") + ", max_vcpus " + std::to_string(host.max_vcpus) +
           ", memory_attributes " + (host.memory_attributes ? "1" : "0") + ", vm_types " + maybe(host.vm_types) + ", guest_la57 " +
           (host.guest_la57 ? (*host.guest_la57 ? "1" : "0") : "the platform's") +
           (host.arm64_hafdbs || host.arm64_lse || host.arm64_dc_zva
                ? ", hafdbs " + std::string(host.arm64_hafdbs.value_or(true) ? "1" : "0") + ", lse " + (host.arm64_lse.value_or(true) ? "1" : "0") +
                      ", dc_zva " + (host.arm64_dc_zva.value_or(true) ? "1" : "0") + ", dczva_block " + std::to_string(host.arm64_dczva_block.value_or(64))
                : std::string()) +
           ", transparent_hugepage " + to_string(host.transparent_hugepage);
}

nlohmann::json host_to_json(const HostDescription& h) {
    nlohmann::json j = {{"guest_memfd", h.guest_memfd}, {"online_cpus", h.online_cpus}, {"max_vcpus", h.max_vcpus}, {"memory_attributes", h.memory_attributes}};
    if (h.kvm_smm) j["smm"] = *h.kvm_smm;
    if (h.guest_maxphyaddr) j["guest_maxphyaddr"] = *h.guest_maxphyaddr;
    if (h.host_maxphyaddr) j["host_maxphyaddr"] = *h.host_maxphyaddr;
    if (h.vm_types) j["vm_types"] = *h.vm_types;
    if (h.guest_la57) j["guest_la57"] = *h.guest_la57;
    if (h.arm64_hafdbs) j["hafdbs"] = *h.arm64_hafdbs;
    if (h.arm64_lse) j["lse"] = *h.arm64_lse;
    if (h.arm64_dc_zva) j["dc_zva"] = *h.arm64_dc_zva;
    if (h.arm64_dczva_block) j["dczva_block"] = *h.arm64_dczva_block;
    j["transparent_hugepage"] = to_string(h.transparent_hugepage);
    return j;
}

HostDescription host_from_json(const nlohmann::json& j) {
    HostDescription h;
    h.guest_memfd = j.at("guest_memfd").get<bool>();
    h.online_cpus = j.at("online_cpus").get<unsigned>();
    h.max_vcpus = j.at("max_vcpus").get<unsigned>();
    h.memory_attributes = j.at("memory_attributes").get<bool>();
    if (j.contains("smm")) h.kvm_smm = j["smm"].get<bool>();
    if (j.contains("guest_maxphyaddr")) h.guest_maxphyaddr = j["guest_maxphyaddr"].get<unsigned>();
    if (j.contains("host_maxphyaddr")) h.host_maxphyaddr = j["host_maxphyaddr"].get<unsigned>();
    if (j.contains("vm_types")) h.vm_types = j["vm_types"].get<unsigned>();
    if (j.contains("guest_la57")) h.guest_la57 = j["guest_la57"].get<bool>();
    if (j.contains("hafdbs")) h.arm64_hafdbs = j["hafdbs"].get<bool>();
    if (j.contains("lse")) h.arm64_lse = j["lse"].get<bool>();
    if (j.contains("dc_zva")) h.arm64_dc_zva = j["dc_zva"].get<bool>();
    if (j.contains("dczva_block")) h.arm64_dczva_block = j["dczva_block"].get<unsigned>();
    // A guest from before the field sent none: the kernel's mode is then unknown, taken as never.
    h.transparent_hugepage = j.contains("transparent_hugepage") ? parse_thp_enabled("[" + j["transparent_hugepage"].get<std::string>() + "]") : ThpMode::Never;
    return h;
}

}  // namespace kvmsim::sim
