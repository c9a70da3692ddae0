// The errno values the model returns, with the kernel's numbers so a /dev/kvm backend can compare.
#pragma once

#include <optional>
#include <string_view>

namespace kvmsim {

enum class Errno : int {
    Eperm = 1,
    Enoent = 2,
    Eintr = 4,
    Eio = 5,
    Enxio = 6,
    E2big = 7,
    Enoexec = 8,
    Ebadf = 9,
    Eagain = 11,
    Enomem = 12,
    Efault = 14,
    Ebusy = 16,
    Eexist = 17,
    Einval = 22,
    Efbig = 27,
    Enospc = 28,
    Enotty = 25,
    Erange = 34,
    Enosys = 38,
    Eopnotsupp = 95,
    Ehwpoison = 133,
};

[[nodiscard]] std::string_view to_string(Errno e);
[[nodiscard]] std::optional<Errno> errno_from_string(std::string_view name);
[[nodiscard]] std::optional<Errno> errno_from_value(int value);

}  // namespace kvmsim
