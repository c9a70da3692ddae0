#include "arm64_model_host.h"

#include <cstring>

#include "../arm64/guest_access.h"

namespace kvmsim::vmm {

KvmRun model_arm64_kvm_run(kvm& vm, Arm64Arch& arch, kvm_vcpu& vcpu) {
    return [&vm, &arch, &vcpu](const VcpuAccess& a, const MmioExitFn& on_mmio) {
        Arm64GuestAccess g;
        g.ipa = a.gpa;
        g.size = a.size;
        g.kind = a.is_write ? Arm64AccessKind::Write : Arm64AccessKind::Read;
        g.data = a.data;
        g.isv = a.isv;
        GuestAccessResult r = arm64_guest_access(vm, arch, vcpu, g).run;
        // models kvm_handle_mmio_return(), arch/arm64/kvm/mmio.c: on the KVM_RUN after the
        // exit, a load takes len bytes of run->mmio.data (the syndrome's SSE is 0 for the
        // loads modelled: no sign extension) and the PC moves past the instruction.
        for (std::size_t i = 0; i < r.events.size(); ++i) {
            const VcpuEvent& e = r.events[i];
            if (e.kind != VcpuEvent::Kind::Exit || e.exit != Exit::Mmio) continue;
            std::array<std::uint8_t, 8> reply{};
            const bool resumes = on_mmio(e, reply);
            if (!resumes) {
                r.events.resize(i + 1);
                r.completed = false;
                r.data = 0;
                return r;
            }
            if (!e.mmio.is_write) {
                r.data = 0;
                std::memcpy(&r.data, reply.data(), std::min<std::uint32_t>(e.mmio.len, 8));
            }
        }
        return r;
    };
}

}  // namespace kvmsim::vmm
