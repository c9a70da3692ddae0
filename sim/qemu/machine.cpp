#include "machine.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "initramfs.h"

namespace kvmsim::sim::qemu {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLine = 64u << 20;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The guest's /init: mount, load the modules, find the port by its name, serve, power off.
std::string init_script() {
    return R"SH(#!/bin/busybox sh
export PATH=/bin
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules.load); do insmod /lib/modules/$m || echo "kvmsim-init: insmod $m failed"; done
# 32 huge pages of 2M (64 MiB) for the scenarios' "hugetlb" mappings (MAP_HUGETLB reserves at mmap()).
echo 32 > /proc/sys/vm/nr_hugepages || echo "kvmsim-init: no hugetlb pages"
port=
i=0
while [ -z "$port" ] && [ $i -lt 100 ]; do
  for n in /sys/class/virtio-ports/*; do
    [ "$(cat $n/name 2>/dev/null)" = kvmsim ] && [ -e /dev/$(basename $n) ] && port=/dev/$(basename $n)
  done
  [ -z "$port" ] && sleep 0.1
  i=$((i+1))
done
if [ -z "$port" ]; then echo "kvmsim-init: no virtio port named kvmsim"; else
  echo "kvmsim-init: serving on $port"
  /bin/kvmsim serve --port $port
  echo "kvmsim-init: kvmsim serve exited with $?"
fi
poweroff -f
)SH";
}

std::optional<std::string> make_initramfs(const MachineSpec& spec, const std::string& out, std::string& error) {
    Initramfs fsimg;
    for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "lib", "lib/modules"}) fsimg.dir(d);
    const std::string kvmsim = slurp(spec.guest_kvmsim), busybox = slurp(spec.busybox);
    if (kvmsim.empty()) return error = "cannot read the guest's kvmsim " + spec.guest_kvmsim, std::nullopt;
    if (busybox.empty()) return error = "cannot read busybox " + spec.busybox, std::nullopt;
    fsimg.file("bin/busybox", busybox, 0755);
    fsimg.file("bin/kvmsim", kvmsim, 0755);
    fsimg.file("init", init_script(), 0755);
    std::vector<std::string> wanted = {"virtio_pci", "virtio_console"};
    if (spec.arch == GuestArch::X86_64) wanted.push_back("kvm_amd");
    std::string load;
    if (spec.kernel.modules) {
        const auto mods = module_closure(*spec.kernel.modules, wanted, error);
        if (!error.empty()) return std::nullopt;
        for (std::size_t i = 0; i < mods.size(); ++i) {
            const std::string bytes = read_module(*spec.kernel.modules + "/" + mods[i], error);
            if (!error.empty()) return std::nullopt;
            const std::string name = std::to_string(i) + ".ko";
            fsimg.file("lib/modules/" + name, bytes);
            load += name + "\n";
        }
    } else if (spec.arch == GuestArch::X86_64) {
        // Without modules the kernel must have KVM, kvm_amd and virtio-console built in.
    }
    fsimg.file("modules.load", load);
    std::ofstream(out, std::ios::binary) << fsimg.finish();
    return out;
}

}  // namespace

std::unique_ptr<Machine> Machine::boot(const MachineSpec& spec, std::string& error) {
    const auto t0 = Clock::now();
    std::unique_ptr<Machine> m(new Machine());
    char tmpl[] = "/tmp/kvmsim-qemu-XXXXXX";
    if (!::mkdtemp(tmpl)) return error = std::string("mkdtemp: ") + std::strerror(errno), nullptr;
    m->dir_ = tmpl;
    const std::string initrd = m->dir_ + "/initramfs.cpio", sock = m->dir_ + "/port.sock", log = m->dir_ + "/console.log";
    if (!make_initramfs(spec, initrd, error)) return nullptr;

    std::vector<std::string> argv;
    const std::string mem = std::to_string(spec.memory_mib);
    const std::string port = "socket,id=kp,path=" + sock + ",server=on,wait=off";
    if (spec.arch == GuestArch::X86_64)
        argv = {"qemu-system-x86_64", "-M", "q35", "-cpu", "max,la57=off,phys-bits=" + std::to_string(spec.phys_bits), "-accel", "tcg",
                "-append", "console=ttyS0 panic=-1 loglevel=4"};
    else
        argv = {"qemu-system-aarch64", "-M", "virt,virtualization=on,gic-version=3", "-cpu", "max,lpa2=off", "-accel", "tcg",
                "-append", "console=ttyAMA0 panic=-1 loglevel=4"};
    for (const std::string& a : {std::string("-m"), mem, std::string("-smp"), std::string("1"), std::string("-nodefaults"), std::string("-no-reboot"),
                                 std::string("-display"), std::string("none"), std::string("-monitor"), std::string("none"),
                                 std::string("-serial"), "file:" + log, std::string("-kernel"), spec.kernel.image, std::string("-initrd"), initrd,
                                 std::string("-device"), std::string("virtio-serial-pci,id=vs"), std::string("-chardev"), port,
                                 std::string("-device"), std::string("virtserialport,bus=vs.0,chardev=kp,name=kvmsim")})
        argv.push_back(a);

    const std::string qemu_err = m->dir_ + "/qemu.stderr";
    const pid_t pid = ::fork();
    if (pid < 0) return error = std::string("fork: ") + std::strerror(errno), nullptr;
    if (pid == 0) {
        const int null = ::open("/dev/null", O_RDWR);
        const int err = ::open(qemu_err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(err >= 0 ? err : null, 2);
        ::setpgid(0, 0);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a kvmsim that dies takes its machine with it
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    m->pid_ = pid;
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    while (m->sock_ < 0) {
        if (m->exited()) {
            error = argv[0] + " exited at once: " + slurp(qemu_err).substr(0, 2000);
            if (error.find("127") != std::string::npos || slurp(qemu_err).empty()) error += " (is QEMU installed? tools/setup-deps installs it)";
            return nullptr;
        }
        if (Clock::now() > deadline) return error = "QEMU made no socket in 30 s", nullptr;
        const int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::strncpy(a.sun_path, sock.c_str(), sizeof a.sun_path - 1);
        if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            m->sock_ = s;
        } else {
            ::close(s);
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
    // TCG boots take seconds alone and longer on a busy machine; five minutes is no boot.
    const auto line = m->read_line(Clock::now() + std::chrono::seconds(300), error);
    if (!line) return error = "the guest did not start kvmsim serve: " + error, nullptr;
    try {
        m->hello_ = nlohmann::json::parse(*line);
    } catch (const nlohmann::json::exception&) {
        return error = "the guest's first line is not kvmsim's hello: " + line->substr(0, 200), nullptr;
    }
    m->boot_seconds_ = std::chrono::duration<double>(Clock::now() - t0).count();
    return m;
}

Machine::~Machine() {
    if (alive()) {
        std::string e;
        request({{"op", "quit"}}, std::chrono::seconds(5), e);
    }
    stop();
    std::error_code ec;
    if (!dir_.empty() && !std::getenv("KVMSIM_KEEP_QEMU_DIR")) fs::remove_all(dir_, ec);
}

bool Machine::exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        dead_ = true;
        return true;
    }
    return false;
}

void Machine::stop() {
    if (sock_ >= 0) ::close(sock_);
    sock_ = -1;
    if (pid_ > 0) {
        for (int i = 0; i < 40 && !exited(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
            pid_ = -1;
        }
    }
    dead_ = true;
}

std::string Machine::console_tail(std::size_t bytes) const {
    const std::string s = slurp(dir_ + "/console.log");
    return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

std::optional<std::string> Machine::read_line(Clock::time_point deadline, std::string& error) {
    for (;;) {
        if (auto nl = buf_.find('\n'); nl != std::string::npos) {
            std::string line = buf_.substr(0, nl);
            buf_.erase(0, nl + 1);
            return line;
        }
        if (buf_.size() > kMaxLine) return error = "the guest sent a line longer than 64 MiB", stop(), std::nullopt;
        if (exited()) return error = "QEMU exited; console: " + console_tail(), stop(), std::nullopt;
        if (Clock::now() > deadline) return error = "no answer in time; console: " + console_tail(), stop(), std::nullopt;
        pollfd p{sock_, POLLIN, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        char chunk[65536];
        const ssize_t n = ::read(sock_, chunk, sizeof chunk);
        if (n == 0) return error = "the guest closed its port; console: " + console_tail(), stop(), std::nullopt;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return error = std::string("reading the port: ") + std::strerror(errno), stop(), std::nullopt;
        }
        buf_.append(chunk, static_cast<std::size_t>(n));
    }
}

std::optional<nlohmann::json> Machine::request(const nlohmann::json& req, std::chrono::seconds timeout, std::string& error) {
    if (!alive()) return error = "the machine is down", std::nullopt;
    const std::string s = req.dump() + "\n";
    const auto deadline = Clock::now() + timeout;
    for (std::size_t off = 0; off < s.size();) {
        if (exited()) return error = "QEMU exited; console: " + console_tail(), stop(), std::nullopt;
        if (Clock::now() > deadline) return error = "the guest took no request in time; console: " + console_tail(), stop(), std::nullopt;
        pollfd p{sock_, POLLOUT, 0};
        if (::poll(&p, 1, 200) <= 0) continue;
        const ssize_t n = ::send(sock_, s.data() + off, s.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) return error = std::string("writing the port: ") + std::strerror(errno), stop(), std::nullopt;
        off += static_cast<std::size_t>(n);
    }
    const auto line = read_line(deadline, error);
    if (!line) return std::nullopt;
    try {
        return nlohmann::json::parse(*line);
    } catch (const nlohmann::json::exception&) {
        error = "the guest answered something other than JSON: " + line->substr(0, 200);
        stop();
        return std::nullopt;
    }
}

}  // namespace kvmsim::sim::qemu
