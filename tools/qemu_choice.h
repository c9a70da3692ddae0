// The options that choose a QEMU-booted kernel, shared by run, diff and fuzz:
// --backend qemu-x86|qemu-arm64, --qemu-kernel 6.1|6.12, --kernel-image FILE, --modules DIR,
// --guest-binary FILE.
#pragma once

#include <boost/program_options.hpp>
#include <memory>
#include <optional>
#include <string>

#include "sim/qemu/qemu_backend.h"

namespace kvmsim::cli {

struct QemuChoice {
    std::string series = "6.12";
    std::string kernel_image, modules, guest_binary;

    void add_options(boost::program_options::options_description& desc) {
        namespace po = boost::program_options;
        desc.add_options()("qemu-kernel", po::value(&series), "with a qemu backend: the Debian kernel to boot, 6.1 or 6.12 (default 6.12)")(
            "kernel-image", po::value(&kernel_image), "with a qemu backend: boot this kernel instead (a patched build)")(
            "modules", po::value(&modules), "its lib/modules/VERSION folder (x86: kvm and kvm_amd are loaded from it)")(
            "guest-binary", po::value(&guest_binary), "the static kvmsim put into the guest (default: the build's own)");
    }

    // A qemu backend for `name`, or nullptr when `name` is no qemu backend.
    [[nodiscard]] std::unique_ptr<sim::qemu::QemuBackend> make(const std::string& name, const std::optional<std::string>& profile) const {
        const auto arch = sim::qemu::qemu_backend_arch(name);
        if (!arch) return nullptr;
        if (series != "6.1" && series != "6.12") throw boost::program_options::error("--qemu-kernel takes 6.1 or 6.12");
        sim::qemu::QemuOptions o;
        o.arch = *arch;
        o.series = series;
        if (!kernel_image.empty()) o.kernel_image = kernel_image;
        if (!modules.empty()) o.modules = modules;
        if (!guest_binary.empty()) o.guest_binary = guest_binary;
        o.profile = profile;
        return sim::qemu::make_qemu_backend(o);
    }
};

}  // namespace kvmsim::cli
