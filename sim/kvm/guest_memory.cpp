#include "guest_memory.h"

#include <algorithm>

#include "model/errno.h"

namespace kvmsim::sim::kvmhost {

nlohmann::json errno_json(long r) {
    if (r >= 0) return r;
    if (auto e = errno_from_value(static_cast<int>(-r))) return std::string(to_string(*e));
    return "errno " + std::to_string(-r);
}

std::optional<std::uint64_t> scenario_hva(const SlotTable& slots, std::uint64_t gpa) {
    for (const auto& [slot, rec] : slots)
        if ((slot >> 16) == 0 && gpa >= rec.gpa && gpa - rec.gpa < rec.size) return rec.uaddr + (gpa - rec.gpa);
    return std::nullopt;
}

bool guest_phys_rw(const SlotTable& slots, HostLayout& layout, std::uint64_t gpa, void* v, unsigned size, bool write) {
    const auto hva = scenario_hva(slots, gpa);
    return hva && layout.in_span(*hva, size) && layout.access(*hva, v, size, write) == 0;
}

std::optional<std::string> unsafe_slots(const SlotTable& slots, const HostLayout& layout, std::optional<std::uint64_t> gpa, std::uint64_t size) {
    for (const auto& [slot, rec] : slots) {
        std::uint64_t lo = rec.gpa, hi = rec.gpa + rec.size;
        if (gpa) lo = std::max(lo, *gpa), hi = std::min(hi, *gpa + size);
        if ((slot >> 16) != 0 || lo >= hi) continue;
        // In this process's addresses: the kernel got to_real(uaddr).
        if (!layout.only_span_or_unmapped(layout.to_real(rec.uaddr) + (lo - rec.gpa), hi - lo))
            return "a guest access whose slot points outside the scenario's host mappings would reach the backend's own memory";
    }
    return std::nullopt;
}

}  // namespace kvmsim::sim::kvmhost
