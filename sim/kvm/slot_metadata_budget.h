// A guard of the kvm backend: a slot whose kernel metadata could run the machine out of memory is
// not created. KVM allocates a new slot's metadata up front with GFP_KERNEL_ACCOUNT (x86's rmap
// arrays when shadow paging is possible, 6.1's page-track array, the dirty bitmaps), and that
// memory is not the calling process's, so the OOM killer picks other processes first. Three
// machine-wide OOMs on the project's machines came from a 2^31 - 1 page slot (16 GiB of rmap).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kvmsim::sim::kvmhost {

// Why creating a slot of `npages` pages with `flags` would be refused by the guard, or nothing.
// The estimate is per architecture and generous (it assumes the rmap exists); the budget is half
// of this machine's MemAvailable, read now.
std::optional<std::string> slot_metadata_over_budget(std::uint64_t npages, std::uint32_t flags);

}  // namespace kvmsim::sim::kvmhost
