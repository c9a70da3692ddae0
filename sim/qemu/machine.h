// One QEMU-emulated machine running a Debian (or the user's) kernel whose init serves kvmsim's
// requests over a virtio-serial port (a Unix socket on this side). Every wait is bounded: a guest
// that stops answering or dies is reported with the tail of its console, never waited on forever.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "kernel_files.h"

namespace kvmsim::sim::qemu {

struct MachineSpec {
    GuestArch arch = GuestArch::X86_64;
    KernelFiles kernel;
    std::string guest_kvmsim;   // a static kvmsim for the guest's arch
    std::string busybox;        // a static busybox for the guest's arch
    unsigned phys_bits = 48;    // x86: pinned, since TCG's default (40) is no real machine's
    unsigned memory_mib = 4096; // 32764 memslots need the room
};

class Machine {
public:
    // Boots and waits for the guest's hello; nullptr with `error` set when that fails.
    static std::unique_ptr<Machine> boot(const MachineSpec& spec, std::string& error);
    ~Machine();
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    [[nodiscard]] const nlohmann::json& hello() const { return hello_; }
    [[nodiscard]] double boot_seconds() const { return boot_seconds_; }
    // Sends one request and waits up to `timeout` for its answer; nullopt with `error` set when
    // the guest died, hung or answered garbage (the machine is unusable after that).
    std::optional<nlohmann::json> request(const nlohmann::json& req, std::chrono::seconds timeout, std::string& error);
    [[nodiscard]] bool alive() const { return pid_ > 0 && !dead_; }
    [[nodiscard]] std::string console_tail(std::size_t bytes = 1500) const;

private:
    Machine() = default;
    std::optional<std::string> read_line(std::chrono::steady_clock::time_point deadline, std::string& error);
    bool exited();
    void stop();

    pid_t pid_ = -1;
    int sock_ = -1;
    bool dead_ = false;
    std::string dir_;  // the machine's temporary folder: initramfs, socket, console log
    std::string buf_;
    nlohmann::json hello_;
    double boot_seconds_ = 0;
};

}  // namespace kvmsim::sim::qemu
