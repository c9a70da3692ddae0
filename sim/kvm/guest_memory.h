// Guest memory as the backend's VMM side sees it, for both architectures: the scenario's hva
// of a gpa, reads and writes through the VMM's mapping, and the check that keeps a guest
// access from reaching memory of this process.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "host_layout.h"
#include "slot_table.h"

namespace kvmsim::sim::kvmhost {

// An ioctl's result in the scenario's words: the value, or the errno's name.
nlohmann::json errno_json(long r);

// The scenario's host address of a gpa in address space 0, as the VMM's mapping has it.
std::optional<std::uint64_t> scenario_hva(const SlotTable& slots, std::uint64_t gpa);
// Through the VMM's mapping of the slot (a debugger's access): false when nothing maps it.
bool guest_phys_rw(const SlotTable& slots, HostLayout& layout, std::uint64_t gpa, void* v, unsigned size, bool write);
// The host bytes an access reaches through a slot must be the scenario's (or nothing at all):
// never memory of this process. `gpa` unset: any slot (an access not yet translated). The
// reason to skip, when it would.
std::optional<std::string> unsafe_slots(const SlotTable& slots, const HostLayout& layout, std::optional<std::uint64_t> gpa, std::uint64_t size);

}  // namespace kvmsim::sim::kvmhost
