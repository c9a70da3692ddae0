// Decision trace: one event per kernel function that decided something, for `kvmsim explain`.
// The model hands events to a sink; with no sink installed an event is never formatted.
#pragma once

#include <string>
#include <utility>
#include <string_view>
#include <vector>

namespace kvmsim {

struct TraceEvent {
    std::string_view function;  // the kernel function, spelled as in the kernel
    std::string detail;         // inputs and the outcome, in words
};

class Trace {
public:
    void enable(bool on) { enabled_ = on; }
    [[nodiscard]] bool enabled() const { return enabled_; }

    // The detail is built only when tracing is on.
    template <typename MakeDetail>
    void emit(std::string_view function, MakeDetail&& make_detail) {
        if (enabled_) events_.push_back({function, make_detail()});
    }

    [[nodiscard]] std::vector<TraceEvent> take() { return std::exchange(events_, {}); }

private:
    bool enabled_ = false;
    std::vector<TraceEvent> events_;
};

std::string hex(unsigned long long v);

}  // namespace kvmsim
