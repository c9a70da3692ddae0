// The line between the kvm backend's arch-neutral part (VM and memslot ioctls, host mappings,
// dirty log, capabilities: sim/kvm_backend.cpp) and the guest code of one architecture
// (sim/kvm/x86/, sim/kvm/arm64/). Exactly one architecture is built in: the one kvmsim is
// compiled for, since /dev/kvm runs guests of its own architecture only.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "../fields.h"
#include "../scenario.h"
#include "../vmm_steps.h"
#include "fd.h"
#include "host_layout.h"
#include "model/trace.h"
#include "slot_table.h"

namespace kvmsim::sim::kvmhost {

// A step the backend cannot reproduce: reported as skipped, with the reason.
struct Skip {
    std::string reason;
};

// The backend's own memslot: guest code, tables and stack, at a gpa and slot id no step of the
// scenario names. Created on first use.
struct GuestRegion {
    std::uint8_t* mem = nullptr;
    std::uint64_t gpa = 0;
    std::uint32_t slot = 0;
};
// Bytes of guest-physical space planned for it: the slot is the first kGuestRegionSlotSize, the
// rest stays free of slots (arm64 signals the end of an access with a store there).
constexpr std::uint64_t kGuestRegionWindow = 2u << 20;
constexpr std::uint64_t kGuestRegionSlotSize = 1u << 20;

// What the arch part may use of the backend's VM.
struct VmContext {
    const Fd& kvm;
    const Fd& vm;
    HostLayout& layout;
    SlotTable& slots;
    Trace& trace;
    const Scenario& scenario;
    std::size_t run_size;
    std::function<GuestRegion()> region;  // throws Skip when it cannot be created
};

class ArchGuest {
public:
    virtual ~ArchGuest() = default;
    // The step's outcome, or nullopt when the op is not the arch's; throws Skip.
    virtual std::optional<nlohmann::json> dispatch(const Step& step, const StepFields& f) = 0;
    // KVM_RUN for the VMM's loop (vmm_guest_read/write) on vCPU `id`.
    virtual std::optional<vmm::KvmRun> vmm_vcpu_run(std::uint32_t id) = 0;
};

// The architecture built in: "x86_64" or "arm64".
extern const char* const kHostArch;
// Why the scenario's VM cannot be made on this architecture's /dev/kvm, if it cannot.
std::optional<std::string> arch_cannot_reproduce(const Scenario& s);
// KVM_CREATE_VM's type argument for the scenario's vm object.
unsigned long arch_vm_type(const Scenario& s);
// Guest-physical address bits a guest access can reach on the VM (x86: MAXPHYADDR; arm64: the
// VM's IPA size).
unsigned arch_phys_bits(const Fd& kvm, const Scenario& s);
std::unique_ptr<ArchGuest> make_arch_guest(VmContext& ctx);

}  // namespace kvmsim::sim::kvmhost
