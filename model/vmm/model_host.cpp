#include "model_host.h"

#include <algorithm>
#include <cstring>

#include "../x86/guest_access.h"

namespace kvmsim::vmm {

bool ModelVmmMemory::mapped(Hva hva, std::uint64_t len) const {
    for (std::uint64_t off = 0; off < len;) {
        const vm_area_struct* vma = mm_.find_vma(hva + off);
        if (!vma || !vma->contains(hva + off)) return false;
        off = vma->vm_end - hva;
    }
    return true;
}

KvmResult ModelVmmMemory::munmap(Hva hva, std::uint64_t size) {
    kvm_.mmu_notifier_invalidate_range(hva, hva + size);
    return mm_.munmap(hva, size);
}

// models complete_emulated_mmio(), arch/x86/kvm/x86.c
GuestAccessResult replay_mmio_exits(GuestAccessResult r, const VcpuAccess& access, const MmioExitFn& on_mmio) {
    std::array<std::uint8_t, 8> bytes{};
    std::memcpy(bytes.data(), &r.data, sizeof r.data);
    for (std::size_t i = 0; i < r.events.size(); ++i) {
        const VcpuEvent& e = r.events[i];
        if (e.kind != VcpuEvent::Kind::Exit || e.exit != Exit::Mmio) continue;
        std::array<std::uint8_t, 8> reply{};
        const bool resumes = on_mmio(e, reply);
        if (!e.mmio.is_write) {
            // The fragment's offset in the load is its gpa's (the guest's addresses are physical).
            const std::uint64_t offset = e.mmio.phys_addr - access.gpa;
            const std::uint64_t len = std::min<std::uint32_t>(e.mmio.len, 8);
            if (offset < access.size) std::memcpy(bytes.data() + offset, reply.data(), std::min<std::uint64_t>(len, access.size - offset));
        }
        if (!resumes) {
            // No further KVM_RUN: later exits and the retirement never happen.
            r.events.resize(i + 1);
            r.completed = false;
            return r;
        }
    }
    r.data = 0;
    if (r.completed && !access.is_write) std::memcpy(&r.data, bytes.data(), std::min<unsigned>(access.size, 8));
    return r;
}

KvmRun model_kvm_run(kvm& vm, kvm_vcpu& vcpu, const PlatformOptions& platform) {
    return [&vm, &vcpu, platform](const VcpuAccess& a, const MmioExitFn& on_mmio) {
        GuestAccess g;
        g.gpa = a.gpa;
        g.size = a.size;
        g.type = a.is_write ? AccessType::Write : AccessType::Read;
        g.data = a.data;
        return replay_mmio_exits(x86_guest_access(vm, vcpu, platform, g), a, on_mmio);
    };
}

}  // namespace kvmsim::vmm
