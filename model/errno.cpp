#include "errno.h"

#include <array>
#include <utility>

namespace kvmsim {
namespace {

constexpr std::array kErrnoNames = {
    std::pair{Errno::Eperm, std::string_view{"EPERM"}},
    std::pair{Errno::Enoent, std::string_view{"ENOENT"}},
    std::pair{Errno::Eintr, std::string_view{"EINTR"}},
    std::pair{Errno::Eio, std::string_view{"EIO"}},
    std::pair{Errno::Enxio, std::string_view{"ENXIO"}},
    std::pair{Errno::E2big, std::string_view{"E2BIG"}},
    std::pair{Errno::Enoexec, std::string_view{"ENOEXEC"}},
    std::pair{Errno::Ebadf, std::string_view{"EBADF"}},
    std::pair{Errno::Eagain, std::string_view{"EAGAIN"}},
    std::pair{Errno::Enomem, std::string_view{"ENOMEM"}},
    std::pair{Errno::Efault, std::string_view{"EFAULT"}},
    std::pair{Errno::Ebusy, std::string_view{"EBUSY"}},
    std::pair{Errno::Eexist, std::string_view{"EEXIST"}},
    std::pair{Errno::Einval, std::string_view{"EINVAL"}},
    std::pair{Errno::Efbig, std::string_view{"EFBIG"}},
    std::pair{Errno::Enospc, std::string_view{"ENOSPC"}},
    std::pair{Errno::Enotty, std::string_view{"ENOTTY"}},
    std::pair{Errno::Erange, std::string_view{"ERANGE"}},
    std::pair{Errno::Enosys, std::string_view{"ENOSYS"}},
    std::pair{Errno::Eopnotsupp, std::string_view{"EOPNOTSUPP"}},
    std::pair{Errno::Ehwpoison, std::string_view{"EHWPOISON"}},
};

}  // namespace

std::string_view to_string(Errno e) {
    for (auto [value, name] : kErrnoNames)
        if (value == e) return name;
    return "E?";
}

std::optional<Errno> errno_from_string(std::string_view name) {
    for (auto [value, n] : kErrnoNames)
        if (n == name) return value;
    return std::nullopt;
}

std::optional<Errno> errno_from_value(int v) {
    for (auto [value, n] : kErrnoNames)
        if (static_cast<int>(value) == v) return value;
    return std::nullopt;
}

}  // namespace kvmsim
