#include "initramfs.h"

#include <cstdio>

namespace kvmsim::sim::qemu {
namespace {

void pad4(std::string& s) {
    while (s.size() % 4) s.push_back('\0');
}

}  // namespace

void Initramfs::entry(const std::string& path, unsigned mode, const std::string& data) {
    char hdr[111];
    // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
    std::snprintf(hdr, sizeof hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino_++, mode, 0u, 0u, 1u, 0u,
                  static_cast<unsigned>(data.size()), 0u, 0u, 0u, 0u, static_cast<unsigned>(path.size() + 1), 0u);
    out_.append(hdr, 110);
    out_ += path;
    out_.push_back('\0');
    pad4(out_);
    out_ += data;
    pad4(out_);
}

void Initramfs::dir(const std::string& path) { entry(path, 0040755, ""); }

void Initramfs::file(const std::string& path, const std::string& data, unsigned mode) { entry(path, 0100000 | mode, data); }

std::string Initramfs::finish() const {
    Initramfs t = *this;
    t.entry("TRAILER!!!", 0, "");
    return t.out_;
}

}  // namespace kvmsim::sim::qemu
