#include "slot_metadata_budget.h"

#include <linux/kvm.h>

#include <fstream>
#include <sstream>

namespace kvmsim::sim::kvmhost {
namespace {

// KVM_MEM_MAX_NR_PAGES: a larger slot is refused before anything is allocated.
constexpr std::uint64_t kMaxNrPages = (1ull << 31) - 1;

// Bytes of kernel metadata per 4 KiB page, besides the dirty bitmaps.
#if defined(__x86_64__)
// kvm_alloc_memslot_metadata() (arch/x86/kvm/x86.c): an 8-byte rmap head per 4 KiB page (and a
// few per large page) where shadow paging may run, and with CONFIG_KVM_EXTERNAL_WRITE_TRACKING
// 6.1's kvm_page_track_create_memslot() adds a 2-byte counter per page.
constexpr std::uint64_t kBytesPerPage = 10;
#else
// arm64 keeps no per-page array for a slot (its stage-2 tables grow with what the guest touches).
constexpr std::uint64_t kBytesPerPage = 0;
#endif

std::uint64_t mem_available_bytes() {
    std::ifstream in("/proc/meminfo");
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string key;
        std::uint64_t kib = 0;
        if (fields >> key >> kib && key == "MemAvailable:") return kib * 1024;
    }
    return 0;
}

std::string gib(std::uint64_t bytes) {
    std::ostringstream s;
    s.precision(1);
    s << std::fixed << static_cast<double>(bytes) / (1ull << 30) << " GiB";
    return s.str();
}

} // namespace

std::optional<std::string> slot_metadata_over_budget(std::uint64_t npages, std::uint32_t flags) {
    if (npages == 0 || npages > kMaxNrPages) return std::nullopt;
    std::uint64_t bytes = npages * kBytesPerPage;
    // kvm_alloc_dirty_bitmap() (virt/kvm/kvm_main.c): two bitmaps of one bit per page.
    if (flags & KVM_MEM_LOG_DIRTY_PAGES) bytes += 2 * ((npages + 63) / 64) * 8;
    const std::uint64_t available = mem_available_bytes();
    if (available == 0 || bytes <= available / 2) return std::nullopt;
    return "this slot would make the kernel allocate about " + gib(bytes) + " of slot metadata up front, and this machine has " +
           gib(available) + " available: not created, so that the kernel's allocation cannot run the machine out of memory";
}

}  // namespace kvmsim::sim::kvmhost
