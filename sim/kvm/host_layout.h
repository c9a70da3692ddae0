// The scenario's host mappings made real in this process. Every mapping the scenario declares
// (host.mmap and host_mmap steps) lies in one span; the span goes at the scenario's own
// addresses when they are free, else the whole span moves by one delta (1 GiB alignment kept)
// so adjacency and large-page alignment survive. Addresses outside the span are never touched:
// the backend will not read, write, unmap or protect memory of its own process.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "../scenario.h"

namespace kvmsim::sim::kvmhost {

class HostLayout {
public:
    HostLayout() = default;
    HostLayout(const HostLayout&) = delete;
    HostLayout& operator=(const HostLayout&) = delete;
    ~HostLayout() { release(); }

    // Chooses the delta and maps scenario.mmaps; a message when it cannot.
    std::optional<std::string> place(const Scenario& scenario);
    void release();

    [[nodiscard]] std::int64_t delta() const { return delta_; }
    [[nodiscard]] bool relocated() const { return delta_ != 0; }
    // Whether [hva, hva + len) lies inside the span (scenario addresses).
    [[nodiscard]] bool in_span(std::uint64_t hva, std::uint64_t len) const;
    // Scenario address -> address in this process (unchanged outside the span).
    [[nodiscard]] std::uint64_t to_real(std::uint64_t hva) const;
    // Address in this process -> scenario address (unchanged outside the relocated span).
    [[nodiscard]] std::uint64_t to_scenario(std::uint64_t real) const;
    [[nodiscard]] std::pair<std::uint64_t, std::uint64_t> span() const { return {lo_, hi_}; }
    // Whether every byte of [hva, hva + len) (scenario addresses) lies in a mapping this layout
    // made and still holds: gaps in the span may belong to the rest of the process.
    [[nodiscard]] bool owns(std::uint64_t hva, std::uint64_t len) const;

    // Whether [start, start + len), in this process's addresses, holds nothing but the span and
    // unmapped space: only what lies outside the span can belong to this process.
    [[nodiscard]] bool only_span_or_unmapped(std::uint64_t start, std::uint64_t len) const;
    // True when no mapping of this process meets [start, start + len) (/proc/self/maps).
    [[nodiscard]] static bool nothing_mapped(std::uint64_t start, std::uint64_t len);

    // The syscalls, at scenario addresses: 0 or the positive errno.
    // `name` names the memfd of a "memfd" mapping (memfd_create(), then MAP_SHARED of it).
    int mmap(std::uint64_t hva, std::uint64_t size, std::uint32_t prot_bits, const std::vector<std::string>& flags, const std::string& name = "");
    int munmap(std::uint64_t hva, std::uint64_t size);
    int mprotect(std::uint64_t hva, std::uint64_t size, std::uint32_t prot_bits);
    // `sigbus` is set when the kernel answered with SIGBUS to this process: memory_failure() kills
    // the caller of a dirty page it poisons (seen on 6.1/6.12 under QEMU, where the call is allowed).
    int madvise_hwpoison(std::uint64_t hva, bool& sigbus);
    // madvise(MADV_DONTNEED) on [hva, hva + size): 0 or the positive errno.
    int madvise_dontneed(std::uint64_t hva, std::uint64_t size);
    // fallocate() on the memfd behind the mapping called `name`: 0 or the positive errno; EBADF
    // when no memfd mapping of that name was made.
    int fallocate(const std::string& name, int mode, std::uint64_t offset, std::uint64_t len);
    // A debugger's access through /proc/self/mem (ignores protection): 0 or the positive errno.
    int access(std::uint64_t hva, void* buf, std::size_t len, bool write);

private:
    void track(std::uint64_t real, std::uint64_t size);
    void untrack(std::uint64_t real, std::uint64_t size);

    std::uint64_t lo_ = 0, hi_ = 0;  // span, scenario addresses
    std::int64_t delta_ = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> mapped_;  // real [start, end) this layout owns
    int mem_fd_ = -1;
    std::map<std::string, int> memfds_;  // mapping name -> the memfd behind it (kept after munmap, as a VMM would)
};

}  // namespace kvmsim::sim::kvmhost
