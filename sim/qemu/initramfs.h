// The guest's root file system, made at run time: an uncompressed newc cpio archive (the format
// the kernel unpacks into its rootfs, Documentation/driver-api/early-userspace/buffer-format.rst).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kvmsim::sim::qemu {

class Initramfs {
public:
    void dir(const std::string& path);
    void file(const std::string& path, const std::string& data, unsigned mode = 0644);
    // The archive, with its trailer.
    [[nodiscard]] std::string finish() const;

private:
    void entry(const std::string& path, unsigned mode, const std::string& data);
    std::string out_;
    std::uint32_t ino_ = 1;
};

}  // namespace kvmsim::sim::qemu
