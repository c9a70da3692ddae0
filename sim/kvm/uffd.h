// userfaultfd for real: one userfaultfd(2) per host_uffd_register step, registered in MISSING
// mode, with a handler thread that reads each UFFD_EVENT_PAGEFAULT, counts it and answers with
// UFFDIO_COPY (a page of the step's pattern) or UFFDIO_ZEROPAGE. The thread polls with a short
// timeout so stop() always returns; a fault it cannot answer is woken with UFFDIO_WAKE and ends
// as the faulting access's own failure, never as a wait without end.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace kvmsim::sim::kvmhost {

struct UffdAnswer {
    bool zeropage = false;      // UFFDIO_ZEROPAGE, else UFFDIO_COPY
    bool whole_range = false;   // one UFFDIO_COPY/ZEROPAGE of the whole range per fault
    // UFFDIO_COPY's source for the whole range (its size), or one page repeated for every page.
    std::vector<std::uint8_t> source;
};

class UffdHandler {
public:
    UffdHandler() = default;
    UffdHandler(const UffdHandler&) = delete;
    UffdHandler& operator=(const UffdHandler&) = delete;
    ~UffdHandler() { stop(); }

    // Opens the userfaultfd, registers [real, real + size) in MISSING mode and starts the
    // thread. 0, or the positive errno of the call that failed; `skip` is set (with the reason)
    // when this host gives no userfaultfd able to see KVM's faults at all.
    int start(std::uint64_t real, std::uint64_t size, UffdAnswer answer, std::optional<std::string>& skip);
    void stop();
    [[nodiscard]] std::uint64_t faults() const { return faults_.load(); }
    [[nodiscard]] std::uint64_t failures() const { return failures_.load(); }

private:
    void serve();

    int fd_ = -1;
    UffdAnswer answer_;
    std::uint64_t start_ = 0, size_ = 0;
    bool answered(std::uint64_t page);
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> faults_{0};
    std::atomic<std::uint64_t> failures_{0};
    std::thread thread_;
};

}  // namespace kvmsim::sim::kvmhost
