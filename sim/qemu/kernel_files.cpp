#include "kernel_files.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

namespace kvmsim::sim::qemu {
namespace {

namespace fs = std::filesystem;

const char* deb_arch(GuestArch a) { return a == GuestArch::X86_64 ? "amd64" : "arm64"; }

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Module names compare with '-' and '_' as one (the kernel's own rule).
std::string canonical(std::string name) {
    std::replace(name.begin(), name.end(), '-', '_');
    return name;
}

std::string module_name(const fs::path& p) {
    std::string n = p.filename().string();
    for (const char* ext : {".ko.xz", ".ko.zst", ".ko.gz", ".ko"})
        if (n.size() > std::strlen(ext) && n.ends_with(ext)) return canonical(n.substr(0, n.size() - std::strlen(ext)));
    return "";
}

}  // namespace

std::string cache_dir() {
    if (const char* c = std::getenv("KVMSIM_CACHE"); c && *c) return c;
    return std::string(KVMSIM_SOURCE_DIR) + "/.cache/qemu";
}

std::optional<KernelFiles> cached_kernel(GuestArch arch, const std::string& series, std::string& error) {
    const fs::path dir = fs::path(cache_dir()) / (series + "-" + deb_arch(arch));
    std::error_code ec;
    KernelFiles k;
    for (const auto& e : fs::directory_iterator(dir / "boot", ec))
        if (e.path().filename().string().starts_with("vmlinuz-")) k.image = e.path().string();
    if (k.image.empty()) {
        error = "no Debian " + series + " kernel for " + deb_arch(arch) + " in " + dir.string() + " (tools/setup-deps fetches the kernels listed in tools/qemu/kernels.txt)";
        return std::nullopt;
    }
    for (const auto& e : fs::directory_iterator(dir / "lib" / "modules", ec)) k.modules = e.path().string();
    k.label = "Debian " + series + " (" + fs::path(k.image).filename().string() + ")";
    return k;
}

std::optional<std::string> cached_busybox(GuestArch arch, std::string& error) {
    const fs::path p = fs::path(cache_dir()) / (std::string("busybox-") + deb_arch(arch)) / "bin" / "busybox";
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    error = std::string("no static busybox for ") + deb_arch(arch) + " at " + p.string() + " (tools/setup-deps fetches it)";
    return std::nullopt;
}

std::string read_module(const std::string& path, std::string& error) {
    if (!path.ends_with(".xz")) {
        std::string s = slurp(path);
        if (s.empty()) error = "cannot read " + path;
        return s;
    }
    // xz-utils is part of every Debian system; decompress through it rather than a library.
    const std::string cmd = "xz -dc -- '" + path + "'";
    FILE* f = ::popen(cmd.c_str(), "r");
    if (!f) {
        error = "cannot run xz for " + path;
        return "";
    }
    std::string out;
    char buf[65536];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
    if (::pclose(f) != 0 || out.empty()) error = "xz could not decompress " + path;
    return out;
}

std::vector<std::string> module_closure(const std::string& modules_dir, const std::vector<std::string>& names, std::string& error) {
    std::map<std::string, fs::path> files;  // canonical name -> path
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(modules_dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec))
            if (std::string n = module_name(it->path()); !n.empty()) files.emplace(n, it->path());
    std::set<std::string> builtin;
    {
        std::istringstream in(slurp(modules_dir + "/modules.builtin"));
        for (std::string line; std::getline(in, line);)
            if (std::string n = module_name(line); !n.empty()) builtin.insert(n);
    }
    std::vector<std::string> order;
    std::set<std::string> seen;
    std::function<void(const std::string&, int)> visit = [&](const std::string& raw, int depth) {
        const std::string name = canonical(raw);
        if (!error.empty() || name.empty() || seen.count(name) || builtin.count(name)) return;
        seen.insert(name);
        const auto f = files.find(name);
        if (f == files.end()) {
            error = "module " + name + " is neither in " + modules_dir + " nor built in";
            return;
        }
        if (depth > 32) {
            error = "module dependencies of " + name + " nest too deep";
            return;
        }
        const std::string bytes = read_module(f->second.string(), error);
        static const std::string key = std::string("\0depends=", 9);
        if (auto at = bytes.find(key); at != std::string::npos) {
            const std::size_t start = at + key.size(), end = bytes.find('\0', start);
            std::istringstream deps(bytes.substr(start, end - start));
            for (std::string d; std::getline(deps, d, ',');) visit(d, depth + 1);
        }
        order.push_back(fs::relative(f->second, modules_dir).string());
    };
    for (const auto& n : names) visit(n, 0);
    return order;
}

}  // namespace kvmsim::sim::qemu
