#include "cfi_flash.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <memory>

#include "../kvm/caps.h"
#include "vmm.h"

namespace kvmsim::vmm {
namespace {

// CFI command codes (Intel/Sharp extended command set), as hw/cfi_flash.c names them.
namespace cmd {
inline constexpr std::uint8_t LockBlock = 0x01;
inline constexpr std::uint8_t AlternateWordProgram = 0x10;
inline constexpr std::uint8_t EraseBlockSetup = 0x20;
inline constexpr std::uint8_t WordProgram = 0x40;
inline constexpr std::uint8_t ClearStatusReg = 0x50;
inline constexpr std::uint8_t LockBlockSetup = 0x60;
inline constexpr std::uint8_t ReadStatusReg = 0x70;
inline constexpr std::uint8_t ReadJedecDevid = 0x90;
inline constexpr std::uint8_t ReadCfiQuery = 0x98;
inline constexpr std::uint8_t Confirm = 0xd0;
inline constexpr std::uint8_t BufferedProgramSetup = 0xe8;
inline constexpr std::uint8_t ReadArray = 0xff;
}  // namespace cmd

// Status register bits.
inline constexpr std::uint8_t kStatusProtect = 0x02;
inline constexpr std::uint8_t kStatusProgramLock = 0x10;
inline constexpr std::uint8_t kStatusEraseClearLock = 0x20;
inline constexpr std::uint8_t kStatusLockError = kStatusProgramLock | kStatusProtect;
inline constexpr std::uint8_t kStatusEraseError = kStatusEraseClearLock | kStatusProgramLock;
inline constexpr std::uint8_t kStatusReady = 0x80;

inline constexpr unsigned kChips = 2;
inline constexpr unsigned kBusWidth = 4;
inline constexpr unsigned kProgramBuffBitsPerChip = 7 + 1 - kChips;
inline constexpr std::uint64_t kBlockSizePerChip = FLASH_BLOCK_SIZE / kChips;

// The constant part of the CFI query table (indexes 0x10-0x43), from the CFI specification
// as kvmtool fills it: "QRY", Intel/Sharp command set 0x0001, primary table at 0x31 ("PRI" 1.0).
// Size and erase-block geometry (0x27, 0x2d-0x30) are computed from the flash size.
constexpr std::array<std::uint8_t, 0x44> make_query_table() {
    std::array<std::uint8_t, 0x44> t{};
    constexpr std::uint8_t ident[] = {'Q', 'R', 'Y', 0x01, 0x00, 0x31, 0x00};
    for (unsigned i = 0; i < sizeof ident; ++i) t[0x10 + i] = ident[i];
    constexpr std::uint8_t timing[] = {0x45, 0x55, 0x00, 0x00, 0x01, 0x01, 0x01};  // 0x1b: Vcc, Vpp, typical timeouts
    for (unsigned i = 0; i < sizeof timing; ++i) t[0x1b + i] = timing[i];
    t[0x28] = 0x05;                     // interface: x32 and x16
    t[0x2a] = kProgramBuffBitsPerChip;  // write buffer, log2 bytes per chip
    t[0x2c] = 0x01;                     // one erase-block region
    constexpr std::uint8_t pri[] = {'P', 'R', 'I', '1', '0', 0xa0, 0, 0, 0, 0x00, 0x01, 0x00, 0x50, 0x00, 0x01, 0, 0, 0, 0};
    for (unsigned i = 0; i < sizeof pri; ++i) t[0x31 + i] = pri[i];
    return t;
}
constexpr auto kQueryTable = make_query_table();

// pow2_size(), include/kvm/util.h (kvmtool): bits needed for x - 1, i.e. ceil(log2(x)).
unsigned pow2_size(std::uint64_t x) { return x <= 1 ? static_cast<unsigned>(x) : 64u - static_cast<unsigned>(std::countl_zero(x - 1)); }

std::string hex8(unsigned v) { return hex(v); }

}  // namespace

std::string_view to_string(CfiState s) {
    switch (s) {
    case CfiState::Ready: return "READY";
    case CfiState::LockBlockSetup: return "LOCK_BLOCK_SETUP";
    case CfiState::WordProgram: return "WORD_PROGRAM";
    case CfiState::BufferedProgramSetup: return "BUFFERED_PROGRAM_SETUP";
    case CfiState::BufferWrite: return "BUFFER_WRITE";
    case CfiState::EraseBlockSetup: return "ERASE_BLOCK_SETUP";
    }
    return "?";
}

std::string_view to_string(CfiReadMode m) {
    switch (m) {
    case CfiReadMode::ReadArray: return "READ_ARRAY";
    case CfiReadMode::ReadStatusReg: return "READ_STATUS_REG";
    case CfiReadMode::ReadJedecDevid: return "READ_JEDEC_DEVID";
    case CfiReadMode::ReadCfiQuery: return "READ_CFI_QUERY";
    }
    return "?";
}

// kvmtool keeps the size in struct cfi_flash_device's u32 size: st_size is truncated to 32 bits
// before the rounding, and size + 1 is u32 arithmetic too. So a file of 4 GiB + 8 KiB gives an
// 8 KiB flash, exactly 4 GiB gives 1 byte, and 4 GiB - 1 wraps size + 1 to 0, where
// 1U << (pow2_size(0) - 1) shifts by -1: the CPU (x86 SHL, arm64 LSLV) takes the count mod 32,
// 1U << 31, which the cap brings to 16 MiB.
std::uint64_t CfiFlash::flash_size(std::uint64_t file_size) {
    const auto size = static_cast<std::uint32_t>(file_size);
    const auto plus_one = static_cast<std::uint32_t>(size + 1u);
    const unsigned shift = (pow2_size(plus_one) - 1u) & 31u;
    const std::uint64_t rounded = std::uint32_t{1} << shift;
    return std::min(rounded, KVM_FLASH_MAX_SIZE);
}

CfiFlash::CfiFlash(const CfiFlashConfig& c)
    : base_(c.base), size_(flash_size(c.file_size)), file_size_(c.file_size), flash_memory_(c.flash_memory), mapping_(c.mapping) {}

namespace {
// models filemap_fault(), mm/filemap.c: a MAP_SHARED file mapping may be longer than the file;
// a page of the mapping wholly past EOF cannot be faulted in and the access gets SIGBUS (past
// the mapping itself it is SIGSEGV, left to VmmMemory). kvmtool maps `size` bytes, which
// exceeds the file only for an empty file (size 0 rounds to a 1-byte flash).
bool past_eof(std::uint64_t file_size, std::uint64_t map_size, std::uint64_t faddr, std::uint64_t len) {
    const auto round_up = [](std::uint64_t v) { return (v + PAGE_SIZE - 1) / PAGE_SIZE * PAGE_SIZE; };
    const std::uint64_t eof_end = round_up(file_size), map_end = round_up(map_size);
    return std::max(faddr, eof_end) < std::min(faddr + len, map_end);
}
}  // namespace

// models create_flash_device_file(), hw/cfi_flash.c (kvmtool)
KvmResult CfiFlash::create(Vmm& vmm, const CfiFlashConfig& config, CfiFlash** out) {
    auto dev = std::unique_ptr<CfiFlash>(new CfiFlash(config));
    CfiFlash& f = *dev;
    if (f.size_ < config.file_size) {
        vmm.log().info("flash file size (" + std::to_string(config.file_size) + " bytes) is not a power of two");
        vmm.log().info("only using first " + std::to_string(f.size_) + " bytes");
    }
    if (config.mapping != FlashMapping::Kvmtool) {
        // Not kvmtool: a VMM that asks first, as QEMU does (kvm_readonly_mem_allowed).
        const long cap = vmm.ioctls().check_extension(Cap::ReadonlyMem);
        if (cap == 0 && config.mapping == FlashMapping::MmioFallback) f.may_map_ = false;
        if (cap == 0 && config.mapping == FlashMapping::RamFallback) f.map_read_only_ = false;
        vmm.trace().emit("create_flash_device_file", [&] {
            return "KVM_CHECK_EXTENSION(KVM_CAP_READONLY_MEM) = " + std::to_string(cap) +
                   (cap ? ": map the array read-only" : f.may_map_ ? ": fall back to a read-write slot" : ": fall back to trapping every access");
        });
    }
    if (f.may_map_) (void)f.map_flash_memory(vmm);  // kvmtool ignores the result
    const KvmResult r = vmm.mmio_bus().register_mmio(f.base_, f.size_, f);
    if (!r.is_ok()) {
        // out_unmap: the file mapping goes, but a bank registered above stays in the list.
        vmm.trace().emit("create_flash_device_file", [&] { return "kvm__register_mmio -> -" + std::string(to_string(*r.err())) + ": flash not created"; });
        (void)vmm.memory().munmap(f.flash_memory_, f.size_);
        // cfi_flash__init() passes the error up; init_list__init() fails and kvmtool stops.
        vmm.log().warning("Failed init: cfi_flash__init");
        vmm.die("Initialisation failed");
        return r;
    }
    *out = &vmm.add_device(std::move(dev));
    return KvmResult::ok();
}

// models map_flash_memory(), hw/cfi_flash.c (kvmtool)
KvmResult CfiFlash::map_flash_memory(Vmm& vmm) {
    const MemType type = map_read_only_ ? (memtype::Ram | memtype::Readonly) : memtype::Ram;
    const KvmResult r = vmm.banks().register_mem(base_, size_, flash_memory_, type);
    if (r.is_ok()) is_mapped_ = true;
    vmm.trace().emit("map_flash_memory", [&] {
        return std::string("kvm__register_mem(") + std::string(kvm_mem_type_to_string(type)) + ") -> " +
               (r.is_ok() ? std::string("mapped") : std::string("-").append(to_string(*r.err())).append(", ignored: the flash stays unmapped"));
    });
    return r;
}

// models unmap_flash_memory(), hw/cfi_flash.c (kvmtool)
KvmResult CfiFlash::unmap_flash_memory(Vmm& vmm) {
    const KvmResult r = vmm.banks().destroy_mem(base_, size_, flash_memory_);
    if (r.is_ok()) is_mapped_ = false;
    vmm.trace().emit("unmap_flash_memory", [&] {
        return std::string("kvm__destroy_mem -> ") + (r.is_ok() ? std::string("unmapped") : std::string("-").append(to_string(*r.err())).append(", ignored"));
    });
    return r;
}

// models read_cfi(), hw/cfi_flash.c (kvmtool)
std::uint8_t CfiFlash::read_cfi(std::uint64_t index) const {
    // kvmtool checks index > sizeof(table), so index == sizeof reads one byte past it; the model gives 0.
    if (index >= kQueryTable.size()) return 0;
    const std::uint64_t blocks_minus_one = size_ / FLASH_BLOCK_SIZE - 1;
    switch (index) {
    case 0x27: return static_cast<std::uint8_t>(pow2_size(size_ / kChips));
    case 0x2d: return blocks_minus_one & 0xff;
    case 0x2e: return (blocks_minus_one >> 8) & 0xff;
    case 0x2f: return (kBlockSizePerChip / 256) & 0xff;
    case 0x30: return ((kBlockSizePerChip / 256) >> 8) & 0xff;
    }
    return kQueryTable[index];
}

// models read_dev_id(), hw/cfi_flash.c (kvmtool)
std::uint16_t CfiFlash::read_dev_id(std::uint64_t faddr) const {
    constexpr std::uint64_t kDevIdMask = 0x7ff;
    switch ((faddr & kDevIdMask) / kBusWidth) {
    case 0: return 0x0000;  // vendor
    case 1: return 0xffff;  // device
    case 2: return block_is_locked(faddr & ~kDevIdMask) ? 1 : 0;
    default: return 0;
    }
}

std::string CfiFlash::write_array(Vmm& vmm, std::uint64_t faddr, std::span<const std::uint8_t> bytes) {
    // A plain memcpy/memset into the VMM's own mapping: a hole there is a crash, not an error.
    if (past_eof(file_size_, size_, faddr, bytes.size())) {
        vmm.trace().emit("cfi_flash_mmio", [&] { return "store into the file mapping past the end of the " + std::to_string(file_size_) + "-byte file -> SIGBUS"; });
        vmm.killed_by("SIGBUS");
        return "; the VMM's store into the array is past the file's end";
    }
    if (!vmm.memory().store(flash_memory_ + faddr, bytes)) {
        vmm.trace().emit("cfi_flash_mmio", [&] {
            return "store of " + std::to_string(bytes.size()) + " bytes at hva " + hex((flash_memory_ + faddr).value()) + " leaves the file mapping -> SIGSEGV";
        });
        vmm.killed_by("SIGSEGV");
        return "; the VMM's store into the array faulted";
    }
    return "";
}

// models cfi_flash_read(), hw/cfi_flash.c (kvmtool)
std::string CfiFlash::cfi_flash_read(Vmm& vmm, std::uint64_t faddr, std::span<std::uint8_t> data) {
    std::uint16_t value = 0;
    switch (read_mode_) {
    case CfiReadMode::ReadArray:
        if (past_eof(file_size_, size_, faddr, data.size())) {
            vmm.killed_by("SIGBUS");
            return "READ_ARRAY: the VMM's load from the array is past the end of the " + std::to_string(file_size_) + "-byte file";
        }
        if (!vmm.memory().load(flash_memory_ + faddr, data)) {
            vmm.killed_by("SIGSEGV");
            return "READ_ARRAY: the VMM's load from the array faulted";
        }
        return "READ_ARRAY: " + std::to_string(data.size()) + " bytes from the array at offset " + hex(faddr);
    case CfiReadMode::ReadStatusReg: value = sr_; break;
    case CfiReadMode::ReadJedecDevid: value = read_dev_id(faddr); break;
    case CfiReadMode::ReadCfiQuery: value = read_cfi(faddr / kBusWidth); break;
    }
    const std::string what = std::string(to_string(read_mode_)) + ": " + hex(value);
    std::array<std::uint8_t, 2> v{static_cast<std::uint8_t>(value), static_cast<std::uint8_t>(value >> 8)};
    switch (data.size()) {
    case 1: data[0] = v[0]; return what + " (low byte)";
    case 8: std::fill(data.begin() + 4, data.end(), 0); [[fallthrough]];
    case 4: std::copy(v.begin(), v.end(), data.begin() + 2); [[fallthrough]];  // the second chip's copy
    case 2: std::copy(v.begin(), v.end(), data.begin()); return what + (data.size() > 2 ? " from each chip" : "");
    default:
        vmm.log().debug("CFI flash: illegal access length " + std::to_string(data.size()) + " for read mode " + std::to_string(static_cast<int>(read_mode_)));
        return what + ": illegal length " + std::to_string(data.size()) + ", data left as it was";
    }
}

// models cfi_flash_write_ready(), hw/cfi_flash.c (kvmtool)
std::string CfiFlash::cfi_flash_write_ready(std::uint8_t command) {
    switch (command) {
    case cmd::ReadJedecDevid: read_mode_ = CfiReadMode::ReadJedecDevid; return "read device id";
    case cmd::ReadStatusReg: read_mode_ = CfiReadMode::ReadStatusReg; return "read status register";
    case cmd::ReadCfiQuery: read_mode_ = CfiReadMode::ReadCfiQuery; return "read CFI query";
    case cmd::ClearStatusReg: sr_ = kStatusReady; return "clear status register";
    case cmd::WordProgram:
    case cmd::AlternateWordProgram:
        state_ = CfiState::WordProgram;
        read_mode_ = CfiReadMode::ReadStatusReg;
        return "word program setup";
    case cmd::LockBlockSetup: state_ = CfiState::LockBlockSetup; return "lock block setup";
    case cmd::EraseBlockSetup:
        state_ = CfiState::EraseBlockSetup;
        read_mode_ = CfiReadMode::ReadStatusReg;
        return "block erase setup";
    case cmd::BufferedProgramSetup:
        program_buffer_.fill(0);
        block_address_ = ~0ull;
        buff_written_ = 0;
        state_ = CfiState::BufferedProgramSetup;
        read_mode_ = CfiReadMode::ReadStatusReg;
        return "buffered program setup";
    case cmd::Confirm: return "unexpected confirm, ignored";
    case cmd::ReadArray: read_mode_ = CfiReadMode::ReadArray; return "read array";
    default: read_mode_ = CfiReadMode::ReadArray; return "unknown command: read array";
    }
}

// models cfi_flash_write(), hw/cfi_flash.c (kvmtool)
std::string CfiFlash::cfi_flash_write(Vmm& vmm, std::uint16_t command, std::uint64_t faddr, std::span<const std::uint8_t> data) {
    const auto c = static_cast<std::uint8_t>(command & 0xff);
    switch (state_) {
    case CfiState::Ready: return "command " + hex8(c) + ": " + cfi_flash_write_ready(c);
    case CfiState::LockBlockSetup: {
        std::string what;
        if (c == cmd::LockBlock || c == cmd::Confirm) {
            if (c == cmd::LockBlock) locked_.insert(faddr / FLASH_BLOCK_SIZE);
            else locked_.erase(faddr / FLASH_BLOCK_SIZE);
            read_mode_ = CfiReadMode::ReadStatusReg;
            what = std::string(c == cmd::LockBlock ? "lock" : "unlock") + " block " + std::to_string(faddr / FLASH_BLOCK_SIZE);
        } else {
            sr_ |= kStatusEraseError;
            what = "bad lock command " + hex8(c) + ": status |= " + hex8(kStatusEraseError);
        }
        state_ = CfiState::Ready;
        return what;
    }
    case CfiState::WordProgram: {
        std::string what;
        if (block_is_locked(faddr)) {
            sr_ |= kStatusLockError;
            what = "program refused: block locked";
        } else {
            what = "program " + std::to_string(data.size()) + " bytes at offset " + hex(faddr) + write_array(vmm, faddr, data);
        }
        read_mode_ = CfiReadMode::ReadStatusReg;
        state_ = CfiState::Ready;
        return what;
    }
    case CfiState::BufferWrite: {
        // buffer_write(): the first word fixes the buffer's base; words inside [base, base+128)
        // are collected, whatever their value, until buffer_length bytes arrived.
        if (buff_written_ < buffer_length_) {
            if (block_address_ == ~0ull) block_address_ = faddr;
            if (faddr >= block_address_ && faddr - block_address_ < PROGRAM_BUFF_SIZE) {
                const std::uint64_t at = faddr - block_address_;
                // kvmtool copies len bytes even past the buffer's end; the model keeps inside it.
                const std::size_t n = std::min<std::size_t>(data.size(), PROGRAM_BUFF_SIZE - at);
                std::copy_n(data.begin(), n, program_buffer_.begin() + at);
                buff_written_ += static_cast<unsigned>(data.size());
                return "buffer " + std::to_string(data.size()) + " bytes at offset " + hex(faddr) + " (" + std::to_string(buff_written_) + "/" +
                       std::to_string(buffer_length_) + ")";
            }
        }
        std::string what;
        if (c == cmd::Confirm) {
            // buffer_confirm()
            if (block_is_locked(block_address_)) {
                sr_ |= kStatusLockError;
                what = "confirm refused: block locked";
            } else {
                const std::size_t n = std::min<std::size_t>(buff_written_, PROGRAM_BUFF_SIZE);
                what = "confirm: program " + std::to_string(n) + " buffered bytes at offset " + hex(block_address_) +
                       write_array(vmm, block_address_, std::span(program_buffer_.data(), n));
            }
            read_mode_ = CfiReadMode::ReadStatusReg;
        } else {
            vmm.log().debug("CFI flash: BUFFER_WRITE: expected CONFIRM(0xd0), got " + hex(command) + " @ " + hex(faddr));
            sr_ |= kStatusProgramLock;
            what = "expected confirm, got " + hex(command) + ": status |= " + hex8(kStatusProgramLock);
        }
        state_ = CfiState::Ready;
        return what;
    }
    case CfiState::BufferedProgramSetup:
        buffer_length_ = std::min<unsigned>((command + 1u) * kBusWidth, PROGRAM_BUFF_SIZE);
        state_ = CfiState::BufferWrite;
        read_mode_ = CfiReadMode::ReadStatusReg;
        return "buffer length " + std::to_string(buffer_length_);
    case CfiState::EraseBlockSetup: {
        std::string what;
        if (c == cmd::Confirm) {
            // block_erase_confirm(): 64 KiB of 0xff from faddr itself, not from the block's start.
            if (block_is_locked(faddr)) {
                sr_ |= kStatusLockError;
                what = "erase refused: block locked";
            } else {
                static const std::vector<std::uint8_t> kErased(FLASH_BLOCK_SIZE, 0xff);
                what = "erase 64 KiB from offset " + hex(faddr) + write_array(vmm, faddr, kErased);
            }
        } else {
            sr_ |= kStatusEraseError;
            what = "expected confirm, got " + hex8(c) + ": status |= " + hex8(kStatusEraseError);
        }
        state_ = CfiState::Ready;
        read_mode_ = CfiReadMode::ReadStatusReg;
        return what;
    }
    }
    return "?";
}

// models cfi_flash_mmio(), hw/cfi_flash.c (kvmtool)
std::string CfiFlash::mmio(Vmm& vmm, Gpa addr, std::span<std::uint8_t> data, bool is_write) {
    const std::uint64_t faddr = addr - base_;
    if (!is_write) {
        std::string what = cfi_flash_read(vmm, faddr, data);
        vmm.trace().emit("cfi_flash_mmio", [&] { return "read: " + what; });
        return what;
    }
    if (data.size() > 4) {
        vmm.log().info("CFI flash: MMIO " + std::to_string(data.size() * 8) + "-bit write access not supported");
        vmm.trace().emit("cfi_flash_mmio", [&] { return std::to_string(data.size() * 8) + "-bit write: not supported, ignored"; });
        return "write wider than 32 bits: ignored";
    }
    // kvmtool copies len bytes into an uninitialised u32; the model's upper bytes are 0.
    std::uint32_t value = 0;
    std::memcpy(&value, data.data(), data.size());
    const CfiState before_state = state_;
    const CfiReadMode before_mode = read_mode_;
    std::string what = std::string(to_string(before_state)) + ": " + cfi_flash_write(vmm, value & 0xffff, faddr, data);
    if (state_ != before_state) what += "; state " + std::string(to_string(state_));
    if (read_mode_ != before_mode) what += "; read_mode " + std::string(to_string(read_mode_));
    vmm.trace().emit("cfi_flash_mmio", [&] { return "write " + hex(value) + ": " + what; });
    // The slot exists exactly while reads can be served from the array.
    if (!is_mapped_ && read_mode_ == CfiReadMode::ReadArray && may_map_) {
        const KvmResult r = map_flash_memory(vmm);
        what += r.is_ok() ? "; memslot added" : "; map failed (" + std::string(to_string(*r.err())) + "), ignored";
    } else if (is_mapped_ && read_mode_ != CfiReadMode::ReadArray) {
        const KvmResult r = unmap_flash_memory(vmm);
        what += r.is_ok() ? "; memslot removed" : "; unmap failed (" + std::string(to_string(*r.err())) + "), ignored";
    }
    return what;
}

}  // namespace kvmsim::vmm
