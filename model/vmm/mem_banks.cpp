#include "mem_banks.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace kvmsim::vmm {

std::string llx(unsigned long long v) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%llx", v);
    return buf;
}

namespace {

std::string region(std::uint64_t start, std::uint64_t size) { std::string s = "[";
    s += llx(start);
    s += "-";
    s += llx(start + size - 1);
    s += "]";
    return s; }

}  // namespace

// models kvm__register_mem(), kvm.c (kvmtool)
KvmResult MemBanks::register_mem(Gpa guest_phys, std::uint64_t size, Hva userspace_addr, MemType type) {
    // One walk finds overlaps and the lowest free slot: the list is slot-sorted, so the
    // candidate only has to step past banks that already hold it.
    std::uint32_t slot = 0;
    std::optional<std::list<kvm_mem_bank>::iterator> prev;  // insert after this; none: at the head
    std::optional<std::list<kvm_mem_bank>::iterator> merged;
    std::uint64_t gpa = guest_phys.value();
    for (auto it = banks_.begin(); it != banks_.end(); ++it) {
        kvm_mem_bank& bank = *it;
        // Inclusive ends in u64, as kvmtool computes them (a zero size wraps).
        const std::uint64_t bank_end = bank.guest_phys_addr.value() + bank.size - 1;
        const std::uint64_t end = gpa + size - 1;
        if (gpa > bank_end || end < bank.guest_phys_addr.value()) {
            if (bank.slot == slot) {
                ++slot;
                prev = it;
            }
            continue;
        }
        // Overlapping RESERVED regions merge; the grown range is checked against the banks
        // that follow, not against those already passed.
        if (bank.type == memtype::Reserved && type == memtype::Reserved) {
            const std::uint64_t start = std::min(bank.guest_phys_addr.value(), gpa);
            bank.size = std::max(bank_end, end) - start + 1;
            bank.guest_phys_addr = Gpa(start);
            if (merged) banks_.erase(*merged);  // at least the second merge: drop the previous result
            gpa = start;
            size = bank.size;
            merged = it;
            kvm_.trace().emit("kvm__register_mem", [&] { return "reserved region merged into slot " + std::to_string(bank.slot) + "'s bank, now " + region(gpa, size); });
            continue;
        }
        log_.error(std::string(kvm_mem_type_to_string(type)) + " region " + region(gpa, size) + " would overlap " +
                   std::string(kvm_mem_type_to_string(bank.type)) + " region " + region(bank.guest_phys_addr.value(), bank.size));
        kvm_.trace().emit("kvm__register_mem", [&] { return "overlaps the bank in slot " + std::to_string(bank.slot) + " -> -EINVAL"; });
        return KvmResult::error(Errno::Einval);
    }
    if (merged) return KvmResult::ok();

    const kvm_mem_bank bank{Gpa(gpa), userspace_addr, size, type, slot};
    const std::uint32_t flags = (type & memtype::Readonly) ? memflag::Readonly : 0;
    // A RESERVED bank (exact type) takes a slot number but no KVM memslot.
    if (type != memtype::Reserved) {
        kvm_.trace().emit("kvm__register_mem", [&] {
            return "KVM_SET_USER_MEMORY_REGION slot " + std::to_string(slot) + (flags ? " KVM_MEM_READONLY" : "") + " gpa " + hex(gpa) + " size " + hex(size);
        });
        const KvmResult r = kvm_.set_user_memory_region({slot, flags, gpa, size, userspace_addr.value()});
        if (!r.is_ok()) {
            kvm_.trace().emit("kvm__register_mem", [&] { return "ioctl failed -> -" + std::string(to_string(*r.err())) + ", no bank added"; });
            return r;
        }
    }
    banks_.insert(prev ? std::next(*prev) : banks_.begin(), bank);
    ++mem_slots_;
    kvm_.trace().emit("kvm__register_mem", [&] { return std::string(kvm_mem_type_to_string(type)) + " bank " + region(gpa, size) + " added as slot " + std::to_string(slot); });
    return KvmResult::ok();
}

// models kvm__destroy_mem(), kvm.c (kvmtool)
KvmResult MemBanks::destroy_mem(Gpa guest_phys, std::uint64_t size, Hva userspace_addr) {
    const auto it = std::find_if(banks_.begin(), banks_.end(), [&](const kvm_mem_bank& b) {
        return b.guest_phys_addr == guest_phys && b.size == size && b.host_addr == userspace_addr;
    });
    if (it == banks_.end()) {
        log_.error("Region " + region(guest_phys.value(), size) + " not found");
        kvm_.trace().emit("kvm__destroy_mem", [&] { return "no bank with this gpa, size and hva -> -EINVAL"; });
        return KvmResult::error(Errno::Einval);
    }
    if (it->type == memtype::Reserved) {
        log_.error("Cannot delete reserved region " + region(guest_phys.value(), size));
        kvm_.trace().emit("kvm__destroy_mem", [] { return std::string("reserved bank -> -EINVAL"); });
        return KvmResult::error(Errno::Einval);
    }
    kvm_.trace().emit("kvm__destroy_mem", [&] { return "KVM_SET_USER_MEMORY_REGION slot " + std::to_string(it->slot) + " size 0 (delete)"; });
    const KvmResult r = kvm_.set_user_memory_region({it->slot, 0, guest_phys.value(), 0, userspace_addr.value()});
    if (!r.is_ok()) {
        kvm_.trace().emit("kvm__destroy_mem", [&] { return "ioctl failed -> -" + std::string(to_string(*r.err())) + ", bank kept"; });
        return r;
    }
    banks_.erase(it);
    --mem_slots_;
    return KvmResult::ok();
}

// models kvm__for_each_mem_bank(), kvm.c (kvmtool)
int MemBanks::for_each_mem_bank(MemType type, const std::function<int(const kvm_mem_bank&)>& fn) const {
    for (const kvm_mem_bank& bank : banks_) {
        if (type != memtype::All && !(bank.type & type)) continue;
        if (const int ret = fn(bank)) return ret;
    }
    return 0;
}

std::string MemBanks::listing(MemType type) const {
    std::string out;
    (void)for_each_mem_bank(type, [&](const kvm_mem_bank& b) {
        out += "slot " + std::to_string(b.slot) + ": " + std::string(kvm_mem_type_to_string(b.type)) + " region " +
               region(b.guest_phys_addr.value(), b.size) + "\n";
        return 0;
    });
    return out;
}

}  // namespace kvmsim::vmm
