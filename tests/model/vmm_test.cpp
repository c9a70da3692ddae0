// The VMM layer (model/vmm) against kvmtool's behaviour: bank list (kvm.c), type names
// (include/kvm/kvm.h, seed 000), MMIO tree (mmio.c), run loop (kvm-cpu.c) and CFI flash
// (hw/cfi_flash.c), driven through the kernel model the way kvmtool drives /dev/kvm.
#include <array>
#include <cstring>
#include <memory>

#include "support/kvm_test.h"
#include "model/vmm/cfi_flash.h"
#include "model/vmm/model_host.h"
#include "model/vmm/scratch_device.h"
#include "model/vmm/vmm.h"

using namespace kvmsim;
using namespace kvmsim::test;
using namespace kvmsim::vmm;

namespace {
constexpr std::uint64_t RAM_HVA = 0x7f0000000000ULL, FLASH_HVA = 0x7f0010000000ULL;
constexpr std::uint64_t FB = KVM_FLASH_MMIO_BASE;

struct VmmVm : Vm {
    ModelVmIoctls ioctls{k};
    ModelVmmMemory memory{k, mm};
    Vmm vmm{ioctls, memory};
    kvm_vcpu* vcpu = nullptr;

    explicit VmmVm(std::string_view profile = "mainline") : Vm(profile, Platform::Vmx) {
        map(RAM_HVA, 1 << 20);
        REQUIRE(mm.mmap(Hva(FLASH_HVA), 64 << 10, {.read = true, .write = true}, MappingKind::Shared, "flash") == OK);
        REQUIRE_OK(k.create_vcpu(0));
        vcpu = k.vcpu(0);
    }
    AccessOutcome access(std::uint64_t gpa, unsigned size, bool write, std::uint64_t data = 0) {
        const KvmRun run = model_kvm_run(k, *vcpu, platform_options(Platform::Vmx));
        return vmm.run_access(0, VcpuAccess{.gpa = Gpa(gpa), .size = size, .is_write = write, .data = data}, run);
    }
    bool slot_exists(std::uint16_t id) const { return k.memslots(0).id_to_memslot(id) != nullptr; }
};
}  // namespace

TEST_SUITE("vmm") {

TEST_CASE("vmm: kvm_mem_type_to_string adds ' (read-only)' and never reaches '(all)' (seed 000)") {
    CHECK(kvm_mem_type_to_string(memtype::Ram) == "RAM");
    CHECK(kvm_mem_type_to_string(memtype::Ram | memtype::Readonly) == "RAM (read-only)");
    CHECK(kvm_mem_type_to_string(memtype::Device | memtype::Readonly) == "device (read-only)");
    CHECK(kvm_mem_type_to_string(memtype::Reserved) == "reserved");
    CHECK(kvm_mem_type_to_string(memtype::All) == "???");
    CHECK(kvm_mem_type_to_string(memtype::Ram | memtype::Device) == "???");
    CHECK(kvm_mem_type_to_string(memtype::Readonly) == "???");
    CHECK(mem_type_from_string("RAM|READONLY") == (memtype::Ram | memtype::Readonly));
    CHECK_FALSE(mem_type_from_string("RAM|").has_value());
    CHECK_FALSE(mem_type_from_string("ROM").has_value());
}

TEST_CASE("vmm: kvm__register_mem takes the lowest free slot and passes KVM_MEM_READONLY for READONLY") {
    VmmVm v;
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0), 0x40000, Hva(RAM_HVA), memtype::Ram));
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0x40000), 0x40000, Hva(RAM_HVA + 0x40000), memtype::Ram));
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0x80000), 0x40000, Hva(RAM_HVA + 0x80000), memtype::Ram));
    REQUIRE_OK(v.vmm.banks().destroy_mem(Gpa(0x40000), 0x40000, Hva(RAM_HVA + 0x40000)));
    CHECK_FALSE(v.slot_exists(1));
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(FB), 64 << 10, Hva(FLASH_HVA), memtype::Ram | memtype::Readonly));
    REQUIRE(v.slot_exists(1));
    CHECK(v.k.memslots(0).id_to_memslot(1)->flags == memflag::Readonly);
    CHECK(v.vmm.banks().listing() == "slot 0: RAM region [0-3ffff]\nslot 1: RAM (read-only) region [2000000-200ffff]\nslot 2: RAM region [80000-bffff]\n");
    CHECK(v.vmm.banks().listing(memtype::Readonly) == "slot 1: RAM (read-only) region [2000000-200ffff]\n");
    CHECK(v.vmm.banks().mem_slots() == 3);
}

TEST_CASE("vmm: an overlapping bank is refused with EINVAL and kvmtool's message, before any ioctl") {
    VmmVm v;
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0), 1 << 20, Hva(RAM_HVA), memtype::Ram));
    (void)v.vmm.log().take();
    CHECK(v.vmm.banks().register_mem(Gpa(0xff000), 0x2000, Hva(FLASH_HVA), memtype::Ram | memtype::Readonly) == EINVAL_);
    CHECK(v.vmm.log().take() == std::vector<std::string>{"Error: RAM (read-only) region [ff000-100fff] would overlap RAM region [0-fffff]"});
    CHECK(v.k.memslots(0).size() == 1);
    // Touching is not overlapping: ends are inclusive.
    CHECK(v.vmm.banks().register_mem(Gpa(0x100000), 0x1000, Hva(FLASH_HVA), memtype::Device) == OK);
}

TEST_CASE("vmm: RESERVED banks merge across two banks without a memslot; mem_slots keeps the freed one") {
    VmmVm v;
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0x100000), 0x100000, Hva(0), memtype::Reserved));
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0x300000), 0x100000, Hva(0), memtype::Reserved));
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0x180000), 0x200000, Hva(0), memtype::Reserved));
    CHECK(v.vmm.banks().listing() == "slot 1: reserved region [100000-3fffff]\n");
    CHECK(v.vmm.banks().mem_slots() == 2);
    CHECK(v.k.memslots(0).size() == 0);
    CHECK(v.vmm.banks().destroy_mem(Gpa(0x100000), 0x300000, Hva(0)) == EINVAL_);
    CHECK(v.vmm.log().take().back() == "Error: Cannot delete reserved region [100000-3fffff]");
}

TEST_CASE("vmm: a KVM refusal comes back as the errno and adds no bank") {
    VmmVm v;
    CHECK(v.vmm.banks().register_mem(Gpa(0x1000), 0x800, Hva(RAM_HVA), memtype::Ram) == EINVAL_);
    CHECK(v.vmm.banks().banks().empty());
    CHECK(v.vmm.log().take().empty());
    CHECK(v.vmm.banks().destroy_mem(Gpa(0), 0x1000, Hva(RAM_HVA)) == EINVAL_);
    CHECK(v.vmm.log().take() == std::vector<std::string>{"Error: Region [0-fff] not found"});
}

TEST_CASE("vmm: the MMIO tree refuses overlaps and hands over only accesses wholly inside one range") {
    ScratchDevice a(Gpa(0x1000)), b(Gpa(0x1100));
    MmioBus bus;
    REQUIRE_OK(bus.register_mmio(Gpa(0x1000), 0x100, a));
    REQUIRE_OK(bus.register_mmio(Gpa(0x1100), 0x100, b));
    CHECK(bus.register_mmio(Gpa(0x10f0), 0x20, a) == KvmResult::error(Errno::Eexist));
    CHECK(bus.register_mmio(Gpa(0x1000), 0x10, a) == KvmResult::error(Errno::Eexist));
    CHECK(bus.search(Gpa(0x10fc), 4) == &a);
    CHECK(bus.search(Gpa(0x10fe), 4) == nullptr);
    CHECK(bus.search(Gpa(0x1100), 4) == &b);
    CHECK(bus.search(Gpa(0x1200), 1) == nullptr);
    CHECK(bus.deregister_mmio(Gpa(0x1180)));
    CHECK(bus.search(Gpa(0x1100), 4) == nullptr);
}

TEST_CASE("vmm: an unclaimed MMIO load gets the stale kvm_run data of the previous store") {
    VmmVm v;
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0), 1 << 20, Hva(RAM_HVA), memtype::Ram));
    const AccessOutcome w = v.access(0x30000000, 4, true, 0xabcd1234);
    REQUIRE(w.exits.size() == 1);
    CHECK(w.exits[0].device.empty());
    const AccessOutcome r = v.access(0x30000010, 4, false);
    CHECK(r.completed);
    CHECK(r.data == 0xabcd1234);
}

TEST_CASE("vmm: the flash size is the file size rounded down to a power of two, at most 16 MiB") {
    CHECK(CfiFlash::flash_size(0) == 1);
    CHECK(CfiFlash::flash_size(1) == 1);
    CHECK(CfiFlash::flash_size(0xfff) == 0x800);
    CHECK(CfiFlash::flash_size(64 << 10) == (64 << 10));
    CHECK(CfiFlash::flash_size(100 << 10) == (64 << 10));
    CHECK(CfiFlash::flash_size(32 << 20) == (16 << 20));
    CHECK(CfiFlash::flash_size(~0ull) == (16 << 20));
    // kvmtool's size is a u32: st_size is truncated before the rounding.
    CHECK(CfiFlash::flash_size((4ull << 30) + (8 << 10)) == (8 << 10));
    CHECK(CfiFlash::flash_size(4ull << 30) == 1);
    CHECK(CfiFlash::flash_size((4ull << 30) - 1) == (16 << 20));  // size + 1 wraps to 0; the shift count -1 is taken mod 32
    CHECK(CfiFlash::flash_size((8ull << 30) + (32 << 20)) == (16 << 20));
}

TEST_CASE("vmm: CFI flash keeps a read-only slot exactly while in read-array mode") {
    VmmVm v;
    REQUIRE_OK(v.vmm.banks().register_mem(Gpa(0), 1 << 20, Hva(RAM_HVA), memtype::Ram));
    std::array<std::uint8_t, 4> init{0x44, 0x33, 0x22, 0x11};
    REQUIRE_OK(v.mm.access_remote(Hva(FLASH_HVA + 0x100), init, true));
    CfiFlash* f = nullptr;
    REQUIRE_OK(CfiFlash::create(v.vmm, {.base = Gpa(FB), .flash_memory = Hva(FLASH_HVA), .file_size = 64 << 10}, &f));
    REQUIRE(f);
    CHECK(f->is_mapped());
    CHECK(v.slot_exists(1));

    AccessOutcome r = v.access(FB + 0x100, 4, false);
    CHECK(r.exits.empty());
    CHECK(r.data == 0x11223344);

    r = v.access(FB, 4, true, 0x98);  // CFI query
    REQUIRE(r.exits.size() == 1);
    CHECK(r.exits[0].device == "cfi-flash");
    CHECK(f->read_mode() == CfiReadMode::ReadCfiQuery);
    CHECK_FALSE(v.slot_exists(1));
    CHECK(v.access(FB + 0x10 * 4, 4, false).data == 0x00510051);  // 'Q', per chip
    CHECK(v.access(FB + 0x12 * 4, 1, false).data == 'Y');

    (void)v.access(FB, 4, true, 0x40);
    CHECK(f->state() == CfiState::WordProgram);
    (void)v.access(FB + 0x100, 4, true, 0xcafef00d);
    CHECK(v.access(FB, 4, false).data == 0x00800080);  // status: ready
    (void)v.access(FB, 4, true, 0xff);
    CHECK(v.slot_exists(1));
    r = v.access(FB + 0x100, 4, false);
    CHECK(r.exits.empty());
    CHECK(r.data == 0xcafef00d);

    (void)v.access(FB, 4, true, 0x20);
    (void)v.access(FB, 4, true, 0xd0);  // erase block 0
    (void)v.access(FB, 4, true, 0xff);
    CHECK(v.access(FB + 0x100, 4, false).data == 0xffffffff);
}

TEST_CASE("vmm: CFI flash lock error sets 0x12 in status and 0x50 clears it") {
    VmmVm v;
    CfiFlash* f = nullptr;
    REQUIRE_OK(CfiFlash::create(v.vmm, {.base = Gpa(FB), .flash_memory = Hva(FLASH_HVA), .file_size = 64 << 10}, &f));
    (void)v.access(FB, 4, true, 0x60);
    CHECK(f->is_mapped());  // lock setup keeps the read mode
    (void)v.access(FB, 4, true, 0x01);
    (void)v.access(FB + 8, 4, true, 0x40);
    (void)v.access(FB + 8, 4, true, 0x1234);
    CHECK(f->sr() == 0x92);
    (void)v.access(FB, 4, true, 0x50);
    CHECK(f->sr() == 0x80);
}

TEST_CASE("vmm: without read-only memslots (v3.6) kvmtool's flash slot is invisible and loads exit") {
    VmmVm v("v3.6");
    CfiFlash* f = nullptr;
    REQUIRE_OK(CfiFlash::create(v.vmm, {.base = Gpa(FB), .flash_memory = Hva(FLASH_HVA), .file_size = 64 << 10}, &f));
    CHECK(f->is_mapped());  // the ioctl succeeded: bit 1 was KVM_MEMSLOT_INVALID
    const AccessOutcome r = v.access(FB, 4, false);
    REQUIRE(r.exits.size() == 1);
    CHECK(r.exits[0].device == "cfi-flash");

    VmmVm w("v3.6");
    REQUIRE_OK(CfiFlash::create(w.vmm, {.base = Gpa(FB), .flash_memory = Hva(FLASH_HVA), .file_size = 64 << 10, .mapping = FlashMapping::RamFallback}, &f));
    CHECK(w.k.memslots(0).id_to_memslot(0)->flags == 0);
    CHECK(w.access(FB, 4, true, 0x70).exits.empty());  // the command went into the array
    CHECK(f->read_mode() == CfiReadMode::ReadArray);
}

}  // TEST_SUITE
