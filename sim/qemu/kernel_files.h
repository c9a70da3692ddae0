// Where a QEMU guest's kernel, modules and tools come from: Debian's packages unpacked by
// tools/setup-deps into the cache (versions pinned in tools/qemu/kernels.txt), or a user's own
// build (--kernel-image, --modules).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace kvmsim::sim::qemu {

enum class GuestArch { X86_64, Arm64 };

struct KernelFiles {
    std::string image;                      // vmlinuz / Image for QEMU's -kernel
    std::optional<std::string> modules;     // lib/modules/<version> (x86: kvm, kvm_amd)
    std::string label;                      // "Debian 6.12 (cache)" or the user's file
};

// The cache folder: $KVMSIM_CACHE, else .cache/qemu in the source tree kvmsim was built from.
std::string cache_dir();
// A Debian kernel series from the cache ("6.1", "6.12"); the error says how to fetch it.
std::optional<KernelFiles> cached_kernel(GuestArch arch, const std::string& series, std::string& error);
// The static busybox for the guest's arch.
std::optional<std::string> cached_busybox(GuestArch arch, std::string& error);

// A module and everything it depends on (its .modinfo "depends="), dependencies first, as paths
// relative to `modules_dir`. A module built into the kernel (modules.builtin) is left out.
std::vector<std::string> module_closure(const std::string& modules_dir, const std::vector<std::string>& names, std::string& error);

// A file's bytes; .xz files are decompressed (xz -dc). Empty with `error` set on failure.
std::string read_module(const std::string& path, std::string& error);

}  // namespace kvmsim::sim::qemu
