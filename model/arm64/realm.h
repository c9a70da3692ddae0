// Realm IPA space (CCA): the top bit of the realm's IPA size splits it into a protected
// (private) lower half and an unprotected (shared) upper half that aliases it.
#pragma once

#include <cstdint>

#include "../types.h"

namespace kvmsim {

// models kvm_realm_is_private_address() and kvm_gpa_from_fault(), arch/arm64 (CCA series)
struct RealmIpa {
    bool is_private = true;
    Gpa canonical;  // the address with the shared bit stripped: what memslots are keyed by
};

[[nodiscard]] inline RealmIpa realm_ipa(Gpa ipa, unsigned ia_bits) {
    const std::uint64_t shared_bit = std::uint64_t{1} << (ia_bits - 1);
    return RealmIpa{.is_private = (ipa.value() & shared_bit) == 0, .canonical = Gpa(ipa.value() & ~shared_bit)};
}

}  // namespace kvmsim
