// libFuzzer target: bytes decoded into a sequence of memslot ioctls, host mappings and lookups
// run on the model, with the table's invariants (model/kvm/invariants.h) checked after every op.
// Small value ranges make slots collide, alias and move onto each other often.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "model/host/host_mm.h"
#include "model/kvm/invariants.h"
#include "model/kvm/kvm.h"
#include "model/profile/profile.h"
#include "model/x86/x86_arch.h"

using namespace kvmsim;

namespace {

struct Bytes {
    const std::uint8_t* p;
    std::size_t n;
    std::uint8_t next() {
        if (!n) return 0;
        --n;
        return *p++;
    }
    std::uint64_t next64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v = v << 8 | next();
        return v;
    }
};

constexpr std::uint64_t kUa = 0x7f0000000000ULL;
constexpr std::uint64_t kPg = 4096;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    Bytes in{data, size};
    static const char* kProfiles[] = {"mainline", "v3.6", "v3.12"};
    const auto profile = find_profile(kProfiles[in.next() % 3]);
    if (!profile) return 0;
    HostMm mm;
    (void)mm.mmap(Hva(kUa), 64 * kPg, {.read = true, .write = true}, MappingKind::Anonymous, "ram");
    kvm vm(mm, *profile, std::make_unique<X86Arch>(Platform::Vmx, VmType::Default));
    InvariantChecker checker;
    int ops = 0;
    while (in.n && ops++ < 512) {
        const std::uint8_t op = in.next();
        const std::uint8_t a = in.next(), b = in.next(), c = in.next();
        switch (op % 10) {
        case 0: case 1: case 2: {  // KVM_SET_USER_MEMORY_REGION: slot (and an as_id bit), flags, gpa, size, hva
            const std::uint32_t slot = (a & 7) | (a & 0x80 ? 0x10000u : 0) | (a & 0x40 ? 32767u : 0);
            const std::uint32_t flags = b & 0x7;
            const std::uint64_t gpa = (c % 48) * kPg, npages = in.next() % 9, hva = kUa + (in.next() % 72) * kPg;
            (void)vm.set_user_memory_region({slot, flags, gpa, npages * kPg + (b & 0x80 ? 1 : 0), hva});
            break;
        }
        case 3: (void)vm.gfn_to_memslot(Gfn(a % 64)); break;
        case 4:
            if (kvm_vcpu* v = vm.vcpu(b & 1)) (void)vm.vcpu_gfn_to_memslot(*v, Gfn(a % 64));
            else (void)vm.create_vcpu(b & 1);
            break;
        case 5:
            if (kvm_memory_slot* s = vm.gfn_to_memslot(Gfn(a % 64))) vm.mark_page_dirty_in_slot(s, Gfn(a % 64));
            break;
        case 6: (void)vm.get_dirty_log(a & 7); break;
        case 7: (void)vm.clear_dirty_log(a & 7, (b % 4) * 64, c, std::vector<std::uint64_t>{in.next64(), in.next64(), in.next64(), in.next64()}); break;
        case 8: (void)vm.enable_cap(Cap::ManualDirtyLogProtect2, 0, {std::uint64_t{a} & 3, 0, 0, 0}); break;
        case 9: {  // the host unmaps or remaps part of the VMM's memory (MMU notifier)
            const Hva start(kUa + (a % 72) * kPg);
            const std::uint64_t len = (b % 8 + 1) * kPg;
            if (c & 1) (void)mm.munmap(start, len);
            else (void)mm.mmap(start, len, {.read = true, .write = true}, MappingKind::Anonymous, "more");
            vm.mmu_notifier_invalidate_range(start, Hva(start.value() + len));
            break;
        }
        }
        if (auto bad = checker.check(vm)) {
            std::fprintf(stderr, "invariant broken after op %d (kind %u): %s\n", ops, op % 10, bad->c_str());
            std::abort();
        }
    }
    return 0;
}
