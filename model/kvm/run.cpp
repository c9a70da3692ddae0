#include "run.h"

#include <array>
#include <utility>

namespace kvmsim {
namespace {

constexpr std::array kExitNames = {
    std::pair{Exit::Io, std::string_view{"KVM_EXIT_IO"}},
    std::pair{Exit::Mmio, std::string_view{"KVM_EXIT_MMIO"}},
    std::pair{Exit::Shutdown, std::string_view{"KVM_EXIT_SHUTDOWN"}},
    std::pair{Exit::InternalError, std::string_view{"KVM_EXIT_INTERNAL_ERROR"}},
    std::pair{Exit::Intr, std::string_view{"KVM_EXIT_INTR"}},
    std::pair{Exit::MemoryFault, std::string_view{"KVM_EXIT_MEMORY_FAULT"}},
    std::pair{Exit::ArmNisv, std::string_view{"KVM_EXIT_ARM_NISV"}},
};
static_assert(kExitNames.size() == 7, "every Exit has a name");

}  // namespace

std::string_view to_string(Exit e) {
    for (auto [v, n] : kExitNames)
        if (v == e) return n;
    return "KVM_EXIT_?";
}

std::optional<Exit> exit_from_string(std::string_view name) {
    for (auto [v, n] : kExitNames)
        if (n == name) return v;
    return std::nullopt;
}

std::string_view to_string(Signal s) {
    switch (s) {
    case Signal::Sigbus: return "SIGBUS";
    }
    return "SIG?";
}

}  // namespace kvmsim
