// The messages kvmtool would print (pr_err, pr_info, pr_debug, the --debug-mmio warning),
// kept as values: the model never prints, the scenario engine shows them.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace kvmsim::vmm {

class VmmLog {
public:
    // kvmtool's report() prefixes (" Error: ", " Warning: ", " Fatal: ", " Info: "), without
    // the leading space, and "Debug: " for pr_debug.
    void error(std::string msg) { lines_.push_back("Error: " + std::move(msg)); }
    void warning(std::string msg) { lines_.push_back("Warning: " + std::move(msg)); }
    void fatal(std::string msg) { lines_.push_back("Fatal: " + std::move(msg)); }
    void info(std::string msg) { lines_.push_back("Info: " + std::move(msg)); }
    void debug(std::string msg) { lines_.push_back("Debug: " + std::move(msg)); }
    // Written with a bare fprintf(stderr) in kvmtool, no prefix.
    void raw(std::string msg) { lines_.push_back(std::move(msg)); }

    [[nodiscard]] std::vector<std::string> take() { return std::exchange(lines_, {}); }

private:
    std::vector<std::string> lines_;
};

// "%llx": kvmtool prints guest ranges in hex without a 0x prefix.
std::string llx(unsigned long long v);

}  // namespace kvmsim::vmm
