// The memslot table's invariants, checked after every operation by the op-sequence fuzzer, by
// tests, and by the model backend after every step in debug builds (NDEBUG unset). They are
// what the kernel's lookups rely on (kvm_memslots in include/linux/kvm_host.h): the gfn tree
// ordered by base_gfn with no two slots overlapping, the gfn tree, the hva tree and the id
// hash holding the same slots, generations that only grow, a dirty bitmap sized to its slot
// exactly when the slot logs, and lookup caches that point at live slots.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kvmsim {

class kvm;

// Follows one VM across calls (generations must not go back).
class InvariantChecker {
public:
    // What is wrong with vm, or nothing.
    [[nodiscard]] std::optional<std::string> check(const kvm& vm);

private:
    std::vector<std::uint64_t> last_gens_;
};

}  // namespace kvmsim
