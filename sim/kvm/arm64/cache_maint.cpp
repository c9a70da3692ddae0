// The arm64 guest's cache maintenance routine: DC CIVAC (clean and invalidate by VA to the
// point of coherence) on the address in x0. A stage-2 abort it takes reports ESR_EL2.CM = 1,
// WnR = 1 and ISV = 0; outside every memslot KVM skips the instruction (kvm_handle_guest_abort()).
#include <cstring>
#include <stdexcept>

#include "guest_code.h"

namespace kvmsim::sim::kvmhost::arm64 {

void put_cache_maint_routine(std::span<std::uint8_t> mem) {
    constexpr std::uint32_t kDcCivacX0 = 0xd50b7e20;  // SYS #3, C7, C14, #1, X0
    constexpr std::uint32_t kStrX1DoneX10 = 0xf9000141;  // str x1, [x10, #kMailDone]
    constexpr std::uint32_t kBSelf = 0x14000000;
    static_assert(kMailDone == 0);
    const std::uint32_t code[] = {kDcCivacX0, kStrX1DoneX10, kBSelf};
    if (kCacheMaintRoutine + sizeof code > mem.size() || kCacheMaintRoutine + sizeof code > GuestCode::kSize)
        throw std::logic_error("arm64 cache maintenance routine does not fit");
    std::memcpy(mem.data() + kCacheMaintRoutine, code, sizeof code);
}

}  // namespace kvmsim::sim::kvmhost::arm64
