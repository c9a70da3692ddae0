// What an ioctl returns to userspace: a non-negative value, or -1 with errno.
#pragma once

#include <optional>

#include "errno.h"

namespace kvmsim {

class [[nodiscard]] KvmResult {
public:
    static constexpr KvmResult ok(long value = 0) { return KvmResult(value, std::nullopt); }
    static constexpr KvmResult error(Errno e) { return KvmResult(-1, e); }

    [[nodiscard]] constexpr bool is_ok() const { return !err_; }
    [[nodiscard]] constexpr long value() const { return value_; }
    [[nodiscard]] constexpr std::optional<Errno> err() const { return err_; }
    constexpr bool operator==(const KvmResult&) const = default;

private:
    constexpr KvmResult(long v, std::optional<Errno> e) : value_(v), err_(e) {}
    long value_;
    std::optional<Errno> err_;
};

}  // namespace kvmsim
