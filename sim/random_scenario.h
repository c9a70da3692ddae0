// Random but valid-looking scenarios for differential testing, and the shrinker that cuts a
// disagreeing scenario down to the few steps that still disagree.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace kvmsim::sim {

struct RandomScenarioOptions {
    unsigned steps = 24;
    std::string platform = "pvm";
    unsigned paging_percent = 35;  // sequences that also run 4-level paging with random tables
    // KVM_CHECK_EXTENSION steps. Off where the other side's kernel configuration is not described
    // to the model (a QEMU-booted Debian kernel: CONFIG_KVM_MAX_NR_VCPUS, SEV, its vCPU count).
    bool caps = true;
    std::string arch = "x86_64";  // or "arm64" (sim/random_arm64.cpp)
};

// A scenario document (contract format, no expectations) drawn from `seed`: memslot creates,
// deletes, moves and flag changes, overlapping and misaligned attempts, read-only and
// dirty-logging slots, guest reads and writes in and out of slots, host reads and writes on
// private and MAP_SHARED mappings under every protection (mprotect), munmap, dirty-log reads
// and clears, KVM_CHECK_EXTENSION of any capability the x86 model answers on either fd; and in some sequences
// 4-level paging on random tables (in a read-only slot or not) with accesses by gva.
nlohmann::json random_scenario(std::uint64_t seed, const RandomScenarioOptions& options);

// The arm64 sequences (sim/random_arm64.cpp): memslot ioctls with read-only and dirty-log flags,
// loads and stores of each size with a valid syndrome or without, instruction fetches, NISV to
// userspace, host mprotect/munmap and host accesses, dirty-log reads and clears; in some
// sequences the MMU on, with random stage-1 tables (in a read-only, dirty-logged or plain slot)
// and accesses by gva. `paging_percent` of the sequences turn the MMU on.
nlohmann::json random_arm64_scenario(std::uint64_t seed, const RandomScenarioOptions& options);

// Removes steps (halves, then quarters, ... then single steps) as long as `still_fails` holds
// for the smaller document; returns the smallest document found. `still_fails` must hold for
// `doc`. At most `max_tries` calls.
nlohmann::json shrink_scenario(const nlohmann::json& doc, const std::function<bool(const nlohmann::json&)>& still_fails,
                               unsigned max_tries = 2000);

}  // namespace kvmsim::sim
