#include "mem_type.h"

#include <array>
#include <charconv>
#include <utility>

namespace kvmsim::vmm {

// models kvm_mem_type_to_string(), include/kvm/kvm.h (kvmtool, as patched by seed 000)
std::string_view kvm_mem_type_to_string(MemType type) {
    const bool ro = (type & memtype::Readonly) != 0;
    // The switch is on the type with READONLY masked off, so its KVM_MEM_TYPE_ALL case (15,
    // READONLY included since the same patch) can never match: ALL itself prints "???".
    switch (type & ~memtype::Readonly) {
    case memtype::All: return "(all)";
    case memtype::Ram: return ro ? "RAM (read-only)" : "RAM";
    case memtype::Device: return ro ? "device (read-only)" : "device";
    case memtype::Reserved: return ro ? "reserved (read-only)" : "reserved";
    }
    return "???";
}

std::optional<MemType> mem_type_from_string(std::string_view text) {
    static constexpr std::array kNames = {
        std::pair{std::string_view{"RAM"}, memtype::Ram},           std::pair{std::string_view{"DEVICE"}, memtype::Device},
        std::pair{std::string_view{"RESERVED"}, memtype::Reserved}, std::pair{std::string_view{"READONLY"}, memtype::Readonly},
        std::pair{std::string_view{"ALL"}, memtype::All},
    };
    if (text.empty()) return std::nullopt;
    if (text.front() >= '0' && text.front() <= '9') {
        MemType v = 0;
        const int base = text.starts_with("0x") ? 16 : 10;
        const std::string_view digits = base == 16 ? text.substr(2) : text;
        const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v, base);
        if (ec != std::errc{} || end != digits.data() + digits.size() || digits.empty()) return std::nullopt;
        return v;
    }
    MemType type = 0;
    while (!text.empty()) {
        const std::size_t bar = text.find('|');
        const std::string_view name = text.substr(0, bar);
        bool known = false;
        for (auto [n, v] : kNames)
            if (n == name) type |= v, known = true;
        if (!known) return std::nullopt;
        if (bar == std::string_view::npos) break;
        text.remove_prefix(bar + 1);
        if (text.empty()) return std::nullopt;
    }
    return type;
}

}  // namespace kvmsim::vmm
