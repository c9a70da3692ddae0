// Limits kvmsim sets on what one scenario may ask of it, so every input finishes in bounded time
// and memory (docs/limits.md lists them with the reason for each). The kernel's own bounds
// (KVM_MEM_MAX_NR_PAGES, KVM_USER_MEM_SLOTS, ...) are modelled where the kernel checks them;
// these are the simulator's, and a scenario that goes past one is refused with the limit named.
#pragma once

#include <cstdint>

namespace kvmsim::sim {

// Dirty pages one KVM_GET_DIRTY_LOG outcome lists (256 MiB of 4K pages): the outcome is a list
// of page numbers, so a 1 TiB slot started all-dirty (KVM_DIRTY_LOG_INITIALLY_SET) would list 2^28.
inline constexpr std::uint64_t kMaxDirtyPagesListed = std::uint64_t{1} << 16;

// Host pages the model may hold (each with a 4 KiB copy of its contents once written): 256 MiB.
inline constexpr std::uint64_t kMaxResidentHostPages = std::uint64_t{1} << 16;

// Steps run in all: every step once per profile in `kernels`.
inline constexpr std::uint64_t kMaxStepRuns = 100000;

// Pages mapped by all build_page_tables steps of a scenario, over all its kernels (1 GiB of 4K
// pages; each may need a new table at every level).
inline constexpr std::uint64_t kMaxPageTablePages = std::uint64_t{1} << 18;

// A host_uffd_register range that is copied whole ("unit": "range") or kept as a snapshot
// ("content": "snapshot"): 64 MiB, so one fault installs at most 16,384 pages and the kvm
// backend's copy of the range stays small.
inline constexpr std::uint64_t kMaxUffdRangeCopy = std::uint64_t{64} << 20;

struct Scenario;
// Refuses, at load time, a scenario whose steps add up past one of the limits above; throws
// ScenarioError naming the JSON path and the limit.
void check_limits(const Scenario& s);

}  // namespace kvmsim::sim
