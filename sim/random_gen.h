// The random source of the differential test's generators (sim/random_scenario.cpp for x86,
// sim/random_arm64.cpp for arm64): one seeded engine, drawn in the same way by both.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

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

}  // namespace kvmsim::sim
