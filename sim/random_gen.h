// The random source of the differential test's generators (sim/random_scenario.cpp for x86,
// sim/random_arm64.cpp for arm64): one seeded engine, drawn in the same way by both.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace kvmsim::sim {

class Gen {
public:
    explicit Gen(std::uint64_t seed) : rng_(seed) {}

    std::uint64_t below(std::uint64_t n) { return n ? std::uniform_int_distribution<std::uint64_t>(0, n - 1)(rng_) : 0; }
    bool chance(unsigned percent) { return below(100) < percent; }
    template <typename T>
    const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

private:
    std::mt19937_64 rng_;
};

// The host memory both generators map: RAM and a read-only "ROM", at fixed addresses so that a
// failing sequence reads the same on every run.
constexpr std::uint64_t kRandomPage = 4096;
constexpr std::uint64_t kRandomRamHva = 0x7e0000000000;
constexpr std::uint64_t kRandomRamPages = 64;
constexpr std::uint64_t kRandomRomHva = kRandomRamHva + 0x1000000;
constexpr std::uint64_t kRandomRomPages = 16;

// A memslot the generated sequence has created, as the generator tracks it.
struct RandomSlot {
    std::uint32_t id;
    std::uint64_t gpa, pages;
    std::string uaddr;
    nlohmann::json flags;
};

}  // namespace kvmsim::sim
