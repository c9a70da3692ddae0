// The qemu-x86 and qemu-arm64 backends: scenarios run on a real KVM inside a QEMU-emulated
// machine (AMD SVM with NPT on q35, or arm64 at EL2 on virt). One machine is booted per backend
// object; start() and run() are forwarded to `kvmsim serve` in the guest, which runs the kvm
// backend there. Steps are skipped under the kvm backend's rules, plus: a profile other than
// the one the booted kernel stands for, and a machine that cannot boot (with the reason).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "kernel_files.h"
#include "sim/backend.h"
#include "sim/host_description.h"

namespace kvmsim::sim::qemu {

struct QemuOptions {
    GuestArch arch = GuestArch::X86_64;
    std::string series = "6.12";                // a Debian kernel from the cache: "6.1" or "6.12"
    std::optional<std::string> kernel_image;    // or the user's kernel
    std::optional<std::string> modules;         // its lib/modules/<version> folder (x86: kvm_amd)
    std::optional<std::string> guest_binary;    // the static kvmsim for the guest (default: beside this one)
    std::optional<std::string> profile;         // the profile the booted kernel stands for (default: from its version)
};

class QemuBackend : public Backend {
public:
    // What this machine lacks before QEMU can even start (QEMU, the kernel, the guest's kvmsim or
    // busybox), or nullopt: a reason to skip, where a failed boot is a failure.
    [[nodiscard]] virtual std::optional<std::string> missing() const = 0;
    // Boots the machine now; false with the reason when it cannot (the backend then skips every step).
    virtual bool boot(std::string& why_not) = 0;
    [[nodiscard]] virtual std::string kernel_release() const = 0;   // uname -r in the guest
    [[nodiscard]] virtual std::string platform() const = 0;         // the contract platform the guest's KVM is
    [[nodiscard]] virtual std::string profile() const = 0;          // the kernel profile it stands for
    [[nodiscard]] virtual double boot_seconds() const = 0;
    // The booted kernel's host description, probed by `kvmsim serve` on its /dev/kvm exactly as
    // the kvm backend probes this machine's (nullopt from a guest that did not send one).
    [[nodiscard]] virtual std::optional<HostDescription> host_description() const = 0;
};

std::unique_ptr<QemuBackend> make_qemu_backend(const QemuOptions& options);

// The profile a kernel release stands for: 6.1.x -> v6.1, 6.12.x -> v6.12, 6.18 or later -> mainline.
std::optional<std::string> profile_for_release(const std::string& release);
// "qemu-x86" / "qemu-arm64" -> the guest arch.
std::optional<GuestArch> qemu_backend_arch(const std::string& backend_name);

}  // namespace kvmsim::sim::qemu
