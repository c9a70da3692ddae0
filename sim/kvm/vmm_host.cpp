#include "vmm_host.h"

#include <linux/kvm.h>
#include <sys/uio.h>
#include <unistd.h>

#include "arch_guest.h"

namespace kvmsim::sim::kvmhost {
namespace {

KvmResult errno_result(long r) {
    if (r >= 0) return KvmResult::ok();
    return KvmResult::error(errno_from_value(static_cast<int>(-r)).value_or(Errno::Einval));
}

// One process_vm_readv/writev on this process: true when every byte moved.
bool copy_self(std::uint64_t real, void* buf, std::size_t len, bool write) {
    iovec local{buf, len};
    iovec remote{reinterpret_cast<void*>(real), len};
    const ssize_t n = write ? ::process_vm_writev(::getpid(), &local, 1, &remote, 1, 0) : ::process_vm_readv(::getpid(), &local, 1, &remote, 1, 0);
    return n == static_cast<ssize_t>(len);
}

}  // namespace

long KvmVmIoctls::check_extension(Cap cap) {
    const long r = raw_ioctl(vm_, KVM_CHECK_EXTENSION, static_cast<unsigned long>(cap));
    return r < 0 ? 0 : r;
}

KvmResult KvmVmIoctls::set_user_memory_region(const kvm_userspace_memory_region& m) {
    ::kvm_userspace_memory_region region{m.slot, m.flags, m.guest_phys_addr, m.memory_size, layout_.to_real(m.userspace_addr)};
    const long r = raw_ioctl(vm_, KVM_SET_USER_MEMORY_REGION, &region);
    if (r == 0) {
        if (m.memory_size == 0) slots_.erase(m.slot);
        else slots_[m.slot] = {m.guest_phys_addr, m.memory_size, m.userspace_addr, m.flags};
    }
    return errno_result(r);
}

bool KvmVmmMemory::load(Hva hva, std::span<std::uint8_t> out) {
    if (!layout_.owns(hva.value(), out.size())) return false;
    return copy_self(layout_.to_real(hva.value()), out.data(), out.size(), false);
}

bool KvmVmmMemory::store(Hva hva, std::span<const std::uint8_t> in) {
    if (!layout_.owns(hva.value(), in.size())) return false;
    return copy_self(layout_.to_real(hva.value()), const_cast<std::uint8_t*>(in.data()), in.size(), true);
}

KvmResult KvmVmmMemory::munmap(Hva hva, std::uint64_t size) {
    // Never the rest of this process: a range the layout does not hold is left alone.
    if (!layout_.owns(hva.value(), size)) return KvmResult::error(Errno::Einval);
    const int e = layout_.munmap(hva.value(), size);
    return e == 0 ? KvmResult::ok() : KvmResult::error(errno_from_value(e).value_or(Errno::Einval));
}

vmm::VmmArch KvmVmmHost::arch() const { return vmm::vmm_arch_from_string(kHostArch).value_or(vmm::VmmArch::X86_64); }

nlohmann::json KvmVmmHost::memslots() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [slot, rec] : slots_) {
        if ((slot >> 16) != 0) continue;
        out.push_back({{"slot", slot}, {"guest_phys_addr", rec.gpa}, {"memory_size", rec.size}, {"userspace_addr", rec.uaddr}, {"flags", rec.flags}});
    }
    return out;
}

}  // namespace kvmsim::sim::kvmhost
