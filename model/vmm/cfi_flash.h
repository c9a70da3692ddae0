// kvmtool's CFI flash (hw/cfi_flash.c): two 16-bit Intel/Sharp command-set chips on a 32-bit
// bus, backed by a MAP_SHARED file mapping. In read-array mode the array is mapped into the
// guest as a read-only memslot (commit d632fac), so loads and fetches run at memory speed and
// only stores trap; any command that selects another read mode deletes the slot so reads trap
// too, and returning to read-array mode registers it again.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "../result.h"
#include "../types.h"
#include "mmio_bus.h"

namespace kvmsim::vmm {

// enum cfi_flash_state, hw/cfi_flash.c
enum class CfiState { Ready, LockBlockSetup, WordProgram, BufferedProgramSetup, BufferWrite, EraseBlockSetup };
// enum cfi_read_mode, hw/cfi_flash.c
enum class CfiReadMode { ReadArray, ReadStatusReg, ReadJedecDevid, ReadCfiQuery };

[[nodiscard]] std::string_view to_string(CfiState s);
[[nodiscard]] std::string_view to_string(CfiReadMode m);

// How the VMM maps the array while in read-array mode. kvmtool never asks KVM whether
// read-only memslots exist; the two fallbacks are what a VMM that asks can do instead.
enum class FlashMapping {
    Kvmtool,       // register RAM|READONLY; a refusal is ignored (kvmtool as it is)
    MmioFallback,  // KVM_CAP_READONLY_MEM == 0: never map, every access traps (QEMU's choice)
    RamFallback,   // KVM_CAP_READONLY_MEM == 0: map the array read-write
};

inline constexpr std::uint64_t KVM_FLASH_MAX_SIZE = 16u << 20;      // arm-common/kvm-arch.h
inline constexpr std::uint64_t KVM_FLASH_MMIO_BASE = 0x2000000;      // arm: ARM_MMIO_AREA + 16 MiB
inline constexpr std::uint64_t FLASH_BLOCK_SIZE = 64u << 10;         // over both chips
inline constexpr std::uint64_t PROGRAM_BUFF_SIZE = 128;

struct CfiFlashConfig {
    Gpa base{KVM_FLASH_MMIO_BASE};
    Hva flash_memory;             // where the flash file is mapped MAP_SHARED in the VMM
    std::uint64_t file_size = 0;  // st_size of the flash file
    FlashMapping mapping = FlashMapping::Kvmtool;
};

class CfiFlash final : public MmioDevice {
public:
    // The flash size kvmtool derives from the file size: the largest power of two not above
    // its low 32 bits (kvmtool's size is a u32), capped at KVM_FLASH_MAX_SIZE (create_flash_device_file()).
    [[nodiscard]] static std::uint64_t flash_size(std::uint64_t file_size);

    // models create_flash_device_file(), hw/cfi_flash.c (kvmtool); 0 or kvm__register_mmio()'s error
    static KvmResult create(Vmm& vmm, const CfiFlashConfig& config, CfiFlash** out);

    [[nodiscard]] std::string_view name() const override { return "cfi-flash"; }
    // models cfi_flash_mmio(), hw/cfi_flash.c (kvmtool)
    std::string mmio(Vmm& vmm, Gpa addr, std::span<std::uint8_t> data, bool is_write) override;

    [[nodiscard]] CfiState state() const { return state_; }
    [[nodiscard]] CfiReadMode read_mode() const { return read_mode_; }
    [[nodiscard]] std::uint8_t sr() const { return sr_; }
    [[nodiscard]] bool is_mapped() const { return is_mapped_; }
    [[nodiscard]] std::uint64_t size() const { return size_; }
    [[nodiscard]] Gpa base() const { return base_; }

private:
    explicit CfiFlash(const CfiFlashConfig& config);

    // models map_flash_memory(), hw/cfi_flash.c (kvmtool)
    KvmResult map_flash_memory(Vmm& vmm);
    // models unmap_flash_memory(), hw/cfi_flash.c (kvmtool)
    KvmResult unmap_flash_memory(Vmm& vmm);
    // models cfi_flash_read(), hw/cfi_flash.c (kvmtool)
    std::string cfi_flash_read(Vmm& vmm, std::uint64_t faddr, std::span<std::uint8_t> data);
    // models cfi_flash_write(), hw/cfi_flash.c (kvmtool)
    std::string cfi_flash_write(Vmm& vmm, std::uint16_t command, std::uint64_t faddr, std::span<const std::uint8_t> data);
    // models cfi_flash_write_ready(), hw/cfi_flash.c (kvmtool)
    std::string cfi_flash_write_ready(std::uint8_t command);
    // models read_cfi(), hw/cfi_flash.c (kvmtool)
    [[nodiscard]] std::uint8_t read_cfi(std::uint64_t index) const;
    // models read_dev_id(), hw/cfi_flash.c (kvmtool)
    [[nodiscard]] std::uint16_t read_dev_id(std::uint64_t faddr) const;
    // models block_is_locked(), hw/cfi_flash.c (kvmtool)
    [[nodiscard]] bool block_is_locked(std::uint64_t faddr) const { return locked_.contains(faddr / FLASH_BLOCK_SIZE); }
    // The device's own stores into the array: the VMM writing its file mapping.
    std::string write_array(Vmm& vmm, std::uint64_t faddr, std::span<const std::uint8_t> bytes);

    Gpa base_;
    std::uint64_t size_;
    std::uint64_t file_size_;  // st_size: the file mapping ends in SIGBUS past its last page
    Hva flash_memory_;
    FlashMapping mapping_;
    bool map_read_only_ = true;  // false once RamFallback found no read-only memslots
    bool may_map_ = true;        // false once MmioFallback found no read-only memslots
    std::array<std::uint8_t, PROGRAM_BUFF_SIZE> program_buffer_{};
    std::set<std::uint64_t> locked_;  // lock_bm: locked erase-block numbers
    std::uint64_t block_address_ = ~0ull;
    unsigned buff_written_ = 0;
    unsigned buffer_length_ = 0;
    CfiState state_ = CfiState::Ready;
    CfiReadMode read_mode_ = CfiReadMode::ReadArray;
    std::uint8_t sr_ = 0x80;  // CFI_STATUS_READY
    bool is_mapped_ = false;
};

}  // namespace kvmsim::vmm
