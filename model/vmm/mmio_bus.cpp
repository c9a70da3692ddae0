#include "mmio_bus.h"

namespace kvmsim::vmm {

// models kvm__register_mmio(), mmio.c (kvmtool)
KvmResult MmioBus::register_mmio(Gpa phys_addr, std::uint64_t len, MmioDevice& device) {
    const std::uint64_t start = phys_addr.value();
    const std::uint64_t end = start + len;
    // rb_int_insert() refuses a node that overlaps any other: -EEXIST.
    auto next = ranges_.lower_bound(start);
    if (next != ranges_.end() && next->first < end) return KvmResult::error(Errno::Eexist);
    if (next != ranges_.begin() && std::prev(next)->second.end > start) return KvmResult::error(Errno::Eexist);
    if (next != ranges_.end() && next->first == start) return KvmResult::error(Errno::Eexist);
    ranges_.emplace(start, Range{end, &device});
    return KvmResult::ok();
}

// models kvm__deregister_mmio(), mmio.c (kvmtool)
bool MmioBus::deregister_mmio(Gpa phys_addr) {
    auto it = ranges_.upper_bound(phys_addr.value());
    if (it == ranges_.begin()) return false;
    --it;
    if (phys_addr.value() >= it->second.end) return false;
    ranges_.erase(it);
    return true;
}

// models mmio_search(), mmio.c (kvmtool)
MmioDevice* MmioBus::search(Gpa addr, std::uint64_t len) const {
    auto it = ranges_.upper_bound(addr.value());
    if (it == ranges_.begin()) return nullptr;
    --it;
    const std::uint64_t end = addr.value() + len;
    if (addr.value() >= it->first && end <= it->second.end) return it->second.device;
    return nullptr;
}

}  // namespace kvmsim::vmm
