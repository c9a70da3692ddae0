// kvmsim serve: the guest half of the qemu backends. Inside a QEMU-booted kernel it drives this
// kernel's /dev/kvm (the kvm backend) one request at a time, reading JSON lines from a port and
// answering each with one JSON line (sim/qemu/wire.h).
#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <boost/program_options.hpp>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>

#include "cli.h"
#include "sim/kvm/host_platform.h"
#include "sim/qemu/wire.h"

namespace po = boost::program_options;
using namespace kvmsim;
using namespace kvmsim::sim;

namespace kvmsim::cli {
namespace {

constexpr std::size_t kMaxLine = 64u << 20;

class Port {
public:
    explicit Port(int fd) : fd_(fd) {}
    // One line, without its newline; nullopt at end of file or on an over-long line.
    std::optional<std::string> read_line() {
        for (;;) {
            if (auto nl = buf_.find('\n'); nl != std::string::npos) {
                std::string line = buf_.substr(0, nl);
                buf_.erase(0, nl + 1);
                return line;
            }
            if (buf_.size() > kMaxLine) return std::nullopt;
            char chunk[65536];
            const ssize_t n = ::read(fd_, chunk, sizeof chunk);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buf_.append(chunk, static_cast<std::size_t>(n));
        }
    }
    bool write_line(const nlohmann::json& j) {
        const std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
        for (std::size_t off = 0; off < s.size();) {
            const ssize_t n = ::write(fd_, s.data() + off, s.size() - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }

private:
    int fd_;
    std::string buf_;
};

nlohmann::json hello() {
    const kvmhost::HostKvm host = kvmhost::probe_host_kvm();
    utsname u{};
    ::uname(&u);
    nlohmann::json j = {{"hello", "kvmsim serve"}, {"kernel", u.release}, {"machine", u.machine}, {"usable", host.usable}};
    if (host.usable) j["platform"] = host.platform, j["platform_why"] = host.platform_why, j["host"] = host_to_json(host.description);
    else j["why_not"] = host.why_not;
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (__get_cpuid(0x80000008, &a, &b, &c, &d)) j["maxphyaddr"] = a & 0xff;
#endif
    return j;
}

}  // namespace

int cmd_serve(const std::vector<std::string>& args) {
    po::options_description desc("kvmsim serve --port DEVICE\n"
                                 "The guest side of the qemu backends: answers start/run requests, one JSON line each, on DEVICE\n"
                                 "(a virtio-serial port) by running them on this machine's /dev/kvm");
    std::string port_path;
    desc.add_options()("help,h", "this help")("port", po::value(&port_path)->required(), "the port to serve on")("path", po::value<std::vector<std::string>>(), "");
    if (std::find(args.begin(), args.end(), "--help") != args.end()) return std::cout << desc << "\n", kExitOk;
    parse_command(desc, args);
    const int fd = ::open(port_path.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        std::cerr << "kvmsim serve: cannot open " << port_path << ": " << std::strerror(errno) << "\n";
        return kExitBadInput;
    }
    Port port(fd);
    if (!port.write_line(hello())) return kExitFailed;
    std::unique_ptr<Backend> backend = make_kvm_backend();
    std::optional<Scenario> scenario;
    while (auto line = port.read_line()) {
        nlohmann::json reply;
        try {
            const nlohmann::json req = nlohmann::json::parse(*line);
            const std::string op = req.at("op").get<std::string>();
            if (op == "quit") {
                port.write_line({{"bye", true}});
                return kExitOk;
            }
            if (op == "start") {
                scenario.reset();
                scenario = parse_scenario(req.at("scenario"), req.at("file").get<std::string>());
                backend->start(*scenario, wire::run_config(req.at("config")));
                reply = {{"notes", backend->notes()}};
            } else if (op == "run") {
                const std::size_t i = req.at("step").get<std::size_t>();
                if (!scenario || i >= scenario->steps.size()) throw std::runtime_error("run: no such step " + std::to_string(i));
                reply = wire::to_json(backend->run(scenario->steps[i]));
            } else {
                throw std::runtime_error("unknown op " + op);
            }
        } catch (const ScenarioError& e) {
            reply = {{"scenario_error", e.what()}, {"path", e.path()}};
        } catch (const std::logic_error& e) {
            reply = {{"logic_error", e.what()}};
        } catch (const std::exception& e) {
            reply = {{"internal_error", e.what()}};
        }
        if (!port.write_line(reply)) return kExitFailed;
    }
    return kExitOk;
}

}  // namespace kvmsim::cli
