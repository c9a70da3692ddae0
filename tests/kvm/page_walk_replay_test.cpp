// Replays guest page walks on the real /dev/kvm and on the model (mainline, pvm: this machine)
// and checks they agree: a 64-bit guest (plus a 32-bit and a PAE one) whose page tables live in a second slot, with
// KVM_MEM_READONLY on and off and the accessed/dirty bits preset or clear. For each case the
// outcome (completion, #PF error code and CR2, shutdown) and the PTE values afterwards must be
// equal. Skips (exit 77) with a message where /dev/kvm cannot be used.
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "model/kvm/kvm.h"
#include "model/x86/gva_access.h"
#include "model/x86/page_table_builder.h"
#include "model/x86/x86_arch.h"

// Taken before kvmsim's own kvm_userspace_memory_region is in scope.
constexpr unsigned long kSetUserMemoryRegion = KVM_SET_USER_MEMORY_REGION;
// struct kvm_cpuid2 ends in a flexible array, which g++ sizes differently from C (12 bytes, not
// 8): the ioctl numbers are built with the C size the kernel expects.
constexpr unsigned long kGetSupportedCpuid = _IOC(_IOC_READ | _IOC_WRITE, KVMIO, 0x05, 8);
constexpr unsigned long kSetCpuid2 = _IOC(_IOC_WRITE, KVMIO, 0x90, 8);

namespace {

using namespace kvmsim;

// Guest physical layout (own choice): slot 0 RAM [0, 2M) with GDT 0x1000, IDT 0x2000, code
// 0x8000, #PF handler 0x8100, #DF handler 0x8200, stack below 0x80000; slot 1 page tables at
// 0x200000 (PML4 0x200000, then PDPT, PD, PT allocated from 0x201000).
constexpr std::uint64_t kRamSize = 2 << 20, kPtGpa = 0x200000, kPtSize = 64 << 10;
constexpr std::uint64_t kGdt = 0x1000, kIdt = 0x2000, kCode = 0x8000, kPfHandler = 0x8100, kDfHandler = 0x8200, kGpHandler = 0x8300,
                        kStack = 0x80000;
constexpr std::uint64_t kReadGva = 0x10000, kWriteGva = 0x11000;
constexpr std::uint16_t kPortDone = 0x10, kPortPf = 0x21, kPortDf = 0x22, kPortGp = 0x23;

enum class Op { Read, Write, Fetch };  // Fetch: jmp to the target (fault cases only)

struct Case {
    const char* name;
    bool pt_readonly;      // the page-table slot has KVM_MEM_READONLY
    bool ad_preset;        // every entry built with A (and the leaves with D)
    Op op;
    bool target_absent;    // the target's PTE is not present
    bool target_readonly = false;  // the target's PTE lacks W
    bool pt_host_readonly = false; // the VMM maps the page-table slot PROT_READ
    bool two_meg = false;          // the target is reached through a 2M page at 0x40000000 -> gpa 0
    PagingMode mode = PagingMode::Level4;  // 32-bit and PAE guests run 32-bit protected-mode code
    bool one_gig = false;          // the target is reached through a 1G page at 0x80000000 -> gpa 0
    bool smap_user_target = false; // CR4.SMEP|SMAP on, and the target page is a user page
    bool target_nx = false;        // the target page has NX
    bool no_wp = false;            // CR0.WP clear
    std::uint64_t gva = 0;         // a target address of its own (else 0x10000 / 0x11000)
};

const std::vector<Case> kCases = {
    {"RW slot, A/D clear, read", false, false, Op::Read, false},
    {"RW slot, A/D clear, write", false, false, Op::Write, false},
    {"RW slot, A/D preset, read", false, true, Op::Read, false},
    {"RW slot, A/D preset, write", false, true, Op::Write, false},
    {"READONLY slot, A/D clear, read", true, false, Op::Read, false},
    {"READONLY slot, A/D clear, write", true, false, Op::Write, false},
    {"READONLY slot, A/D preset, read", true, true, Op::Read, false},
    {"READONLY slot, A/D preset, write", true, true, Op::Write, false},
    {"RW slot, A/D clear, read of a not-present page", false, false, Op::Read, true},
    {"RW slot, A/D clear, write to a not-present page", false, false, Op::Write, true},
    {"READONLY slot, A/D clear, write to a not-present page", true, false, Op::Write, true},
    {"READONLY slot, A/D preset, read of a not-present page", true, true, Op::Read, true},
    {"RW slot, A/D preset, write to a read-only page", false, true, Op::Write, false, true},
    {"READONLY slot, A/D clear, write to a read-only page", true, false, Op::Write, false, true},
    {"RW slot on a PROT_READ mapping, A/D preset, write", false, true, Op::Write, false, false, true},
    {"RW slot on a PROT_READ mapping, A/D clear, read", false, false, Op::Read, false, false, true},
    {"RW slot, A/D clear, read through a 2M page", false, false, Op::Read, false, false, false, true},
    {"RW slot, A/D clear, write through a 2M page", false, false, Op::Write, false, false, false, true},
    {"READONLY slot, A/D clear, write through a 2M page", true, false, Op::Write, false, false, false, true},
    {"RW slot, A/D clear, read through a 1G page", false, false, Op::Read, false, false, false, false, PagingMode::Level4, true},
    {"READONLY slot, A/D clear, write through a 1G page", true, false, Op::Write, false, false, false, false, PagingMode::Level4, true},
    {"SMAP: supervisor read of a user page", false, false, Op::Read, false, false, false, false, PagingMode::Level4, false, true},
    {"SMAP: supervisor write to a user page", false, true, Op::Write, false, false, false, false, PagingMode::Level4, false, true},
    {"fetch from an NX page", false, false, Op::Fetch, false, false, false, false, PagingMode::Level4, false, false, true},
    {"fetch from a not-present page", false, false, Op::Fetch, true},
    {"CR0.WP clear: supervisor write to a read-only page", false, false, Op::Write, false, true, false, false, PagingMode::Level4, false, false, false, true},
    {"non-canonical address", false, false, Op::Read, false, false, false, false, PagingMode::Level4, false, false, false, false, 0x0000800000000000ULL},
    // PVM runs paged guests in long mode only: these two show the shutdown the model predicts.
    {"32-bit paging, RW slot, A/D clear, write", false, false, Op::Write, false, false, false, false, PagingMode::Bits32},
    {"PAE paging, READONLY slot, A/D clear, read", true, false, Op::Read, false, false, false, false, PagingMode::Pae},
};

bool long_mode(const Case& c) { return c.mode == PagingMode::Level4; }
unsigned entry_size(const Case& c) { return c.mode == PagingMode::Bits32 ? 4 : 8; }

// The target's gva: identity-mapped, or through the 2M page.
std::uint64_t target_gva(const Case& c) {
    if (c.gva) return c.gva;
    const std::uint64_t t = c.op == Op::Write ? kWriteGva : kReadGva;
    return c.two_meg ? 0x40000000 + t : c.one_gig ? 0x80000000 + t : t;
}

// Identity map of RAM with 4K pages; the target PTE cleared where the case asks.
PtBuildSpec table_spec(const Case& c) {
    PtBuildSpec s;
    s.mode = c.mode;
    s.root = Gpa(kPtGpa);
    s.pool = Gpa(kPtGpa + PAGE_SIZE);
    s.pool_size = kPtSize - PAGE_SIZE;
    s.table_bits = x86::PTE_W | x86::PTE_U | (c.ad_preset ? x86::PTE_A : 0);
    const std::uint64_t leaf = x86::PTE_W | (c.ad_preset ? x86::PTE_A | x86::PTE_D : 0);
    s.maps.push_back({Gva(0), Gpa(0), kRamSize, PAGE_SIZE, leaf, true});
    const std::uint64_t t = c.op == Op::Write ? kWriteGva : kReadGva;
    if (c.target_nx) s.maps.push_back({Gva(t), Gpa(t), PAGE_SIZE, PAGE_SIZE, leaf | x86::PTE_NX, true});
    if (c.target_absent) s.maps.push_back({Gva(t), Gpa(t), PAGE_SIZE, PAGE_SIZE, leaf, false});
    if (c.target_readonly) s.maps.push_back({Gva(t), Gpa(t), PAGE_SIZE, PAGE_SIZE, leaf & ~x86::PTE_W, true});
    if (c.one_gig) s.maps.push_back({Gva(0x80000000), Gpa(0), 1 << 30, 1 << 30, leaf, true});  // PDPTE 2
    if (c.smap_user_target) s.maps.push_back({Gva(t), Gpa(t), PAGE_SIZE, PAGE_SIZE, leaf | x86::PTE_U, true});
    if (c.two_meg) s.maps.push_back({Gva(0x40000000), Gpa(0), 2 << 20, 2 << 20, leaf, true});  // PD of PDPTE 1 at 0x204000
    return s;
}

// The entries compared after each case: the three upper levels, the code page's PTE, the target's.
// With a 2M target: PDPTE 1 and the 2M PDE instead of the identity map's PDE and target PTE.
std::vector<std::uint64_t> entry_offsets(const Case& c) {
    const std::uint64_t t = c.op == Op::Write ? kWriteGva : kReadGva;
    // 32-bit: PD at the root, PT 0x201000. PAE: the PDPT at the root, PD 0x201000, PT 0x202000.
    if (c.mode == PagingMode::Bits32) return {0x0, 0x1000 + (kCode >> 12) * 4, 0x1000 + (t >> 12) * 4};
    if (c.mode == PagingMode::Pae) return {0x0, 0x1000, 0x2000 + (kCode >> 12) * 8, 0x2000 + (t >> 12) * 8};
    if (c.two_meg) return {0x0, 0x1008, 0x4000, 0x3000 + (kCode >> 12) * 8, 0x2000};
    if (c.one_gig) return {0x0, 0x1010, 0x2000, 0x3000 + (kCode >> 12) * 8, 0x1000};
    return {0x0, 0x1000, 0x2000, 0x3000 + (kCode >> 12) * 8, 0x3000 + (t >> 12) * 8};
}

struct Outcome {
    std::string what;  // "completed", "#PF ec=.. cr2=..", "#DF", "KVM_EXIT_SHUTDOWN", ...
    std::vector<std::uint64_t> entries;
};

void put64(std::uint8_t* p, std::uint64_t v) { std::memcpy(p, &v, 8); }

// Guest code: rdi = target, rsi = value. Read: mov rax,[rdi]; out 0x10,al; hlt.
// Write: mov [rdi],rsi; out 0x10,al; hlt. Handlers: pop rax (error code); mov rbx,cr2; out; hlt.
// 32-bit code is the same without the REX.W prefix (mov eax,[edi] / mov [edi],esi).
void fill_ram(std::uint8_t* ram, const Case& c) {
    const Op op = c.op;
    const bool lm = long_mode(c);
    put64(ram + kGdt + 8, lm ? 0x00209a0000000000ULL : 0x00cf9a000000ffffULL);  // code, DPL 0: 64-bit or 32-bit flat
    put64(ram + kGdt + 16, 0x00cf92000000ffffULL);                             // flat data
    auto gate = [&](unsigned v, std::uint64_t h) {
        const unsigned size = lm ? 16 : 8;
        put64(ram + kIdt + v * size, (h & 0xffff) | (0x08ULL << 16) | (0x8eULL << 40) | (((h >> 16) & 0xffff) << 48));
        if (lm) put64(ram + kIdt + v * size + 8, h >> 32);
    };
    gate(14, kPfHandler);
    gate(8, kDfHandler);
    gate(13, kGpHandler);
    const std::uint8_t rd[] = {0x48, 0x8b, 0x07, 0xe6, kPortDone, 0xf4};
    const std::uint8_t wr[] = {0x48, 0x89, 0x37, 0xe6, kPortDone, 0xf4};
    const std::uint8_t jmp[] = {0xff, 0xe7, 0xf4};  // jmp rdi
    if (op == Op::Fetch) std::memcpy(ram + kCode, jmp, sizeof jmp);
    else if (lm) std::memcpy(ram + kCode, op == Op::Read ? rd : wr, sizeof rd);
    else std::memcpy(ram + kCode, (op == Op::Read ? rd : wr) + 1, sizeof rd - 1);
    const std::uint8_t pf[] = {0x58, 0x0f, 0x20, 0xd3, 0xe6, kPortPf, 0xf4};
    const std::uint8_t df[] = {0x58, 0x0f, 0x20, 0xd3, 0xe6, kPortDf, 0xf4};
    std::memcpy(ram + kPfHandler, pf, sizeof pf);
    std::memcpy(ram + kDfHandler, df, sizeof df);
    const std::uint8_t gp[] = {0x58, 0xe6, kPortGp, 0xf4};
    std::memcpy(ram + kGpHandler, gp, sizeof gp);
}

PtMemory memory_at(std::uint8_t* pt) {
    PtMemory m;
    m.read = [pt](Gpa gpa, std::uint64_t& v, unsigned size) {
        if (gpa.value() < kPtGpa || gpa.value() + size > kPtGpa + kPtSize) return false;
        v = 0;
        std::memcpy(&v, pt + (gpa.value() - kPtGpa), size);
        return true;
    };
    m.write = [pt](Gpa gpa, std::uint64_t v, unsigned size) {
        if (gpa.value() < kPtGpa || gpa.value() + size > kPtGpa + kPtSize) return false;
        std::memcpy(pt + (gpa.value() - kPtGpa), &v, size);
        return true;
    };
    return m;
}

std::string pf_text(std::uint64_t ec, std::uint64_t cr2) {
    char b[96];
    std::snprintf(b, sizeof b, "#PF error code %#llx cr2 %#llx", static_cast<unsigned long long>(ec), static_cast<unsigned long long>(cr2));
    return b;
}

struct RealVm {
    int vm = -1, vcpu = -1;
    kvm_run* run = nullptr;
    int run_size = 0;
    ~RealVm() {
        if (run) munmap(run, run_size);
        if (vcpu >= 0) close(vcpu);
        if (vm >= 0) close(vm);
    }
};

void set_seg(kvm_segment& s, std::uint16_t sel, bool code) {
    s = {};
    s.selector = sel;
    s.limit = 0xffffffff;
    s.present = 1;
    s.s = 1;
    s.g = 1;
    s.type = code ? 11 : 3;
    s.l = code ? 1 : 0;
    s.db = code ? 0 : 1;
}

// Runs the case on /dev/kvm; an empty `what` with a message means the harness itself failed.
Outcome run_real(int kvm_fd, const Case& c, std::uint8_t* ram, std::uint8_t* pt, std::string& harness_error) {
    Outcome o;
    std::memset(ram, 0, kRamSize);
    std::memset(pt, 0, kPtSize);
    fill_ram(ram, c);
    const PtBuildResult b = build_page_tables(table_spec(c), memory_at(pt));
    if (b.error) return harness_error = "builder: " + *b.error, o;
    if (mprotect(pt, kPtSize, c.pt_host_readonly ? PROT_READ : PROT_READ | PROT_WRITE)) return harness_error = "mprotect", o;
    RealVm v;
    v.vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (v.vm < 0) return harness_error = "KVM_CREATE_VM", o;
    ::kvm_userspace_memory_region r0{0, 0, 0, kRamSize, reinterpret_cast<std::uint64_t>(ram)};
    ::kvm_userspace_memory_region r1{1, c.pt_readonly ? std::uint32_t{KVM_MEM_READONLY} : 0u, kPtGpa, kPtSize, reinterpret_cast<std::uint64_t>(pt)};
    if (ioctl(v.vm, kSetUserMemoryRegion, &r0) || ioctl(v.vm, kSetUserMemoryRegion, &r1)) return harness_error = "KVM_SET_USER_MEMORY_REGION", o;
    v.vcpu = ioctl(v.vm, KVM_CREATE_VCPU, 0);
    if (v.vcpu < 0) return harness_error = "KVM_CREATE_VCPU", o;
    v.run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    v.run = static_cast<kvm_run*>(mmap(nullptr, v.run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v.vcpu, 0));
    if (v.run == MAP_FAILED) return v.run = nullptr, harness_error = "mmap kvm_run", o;
    std::vector<std::uint32_t> cpuid(2 + 256 * sizeof(kvm_cpuid_entry2) / 4);  // nent, padding, entries
    cpuid[0] = 256;
    if (ioctl(kvm_fd, kGetSupportedCpuid, cpuid.data()) || ioctl(v.vcpu, kSetCpuid2, cpuid.data())) return harness_error = "CPUID", o;
    kvm_sregs s{};
    if (ioctl(v.vcpu, KVM_GET_SREGS, &s)) return harness_error = "KVM_GET_SREGS", o;
    set_seg(s.cs, 0x08, true);
    if (!long_mode(c)) s.cs.l = 0, s.cs.db = 1;
    set_seg(s.ds, 0x10, false);
    s.es = s.fs = s.gs = s.ss = s.ds;
    s.gdt.base = kGdt;
    s.gdt.limit = 23;
    s.idt.base = kIdt;
    s.idt.limit = long_mode(c) ? 32 * 16 - 1 : 32 * 8 - 1;
    s.cr3 = kPtGpa;
    s.cr4 = (c.mode == PagingMode::Bits32 ? 0 : x86::CR4_PAE) | (c.smap_user_target ? x86::CR4_SMEP | x86::CR4_SMAP : 0);
    s.cr0 = x86::CR0_PG | (c.no_wp ? 0 : x86::CR0_WP) | 0x20 | 0x10 | x86::CR0_PE;
    s.efer = long_mode(c) ? x86::EFER_LME | x86::EFER_LMA | x86::EFER_NXE : c.mode == PagingMode::Pae ? x86::EFER_NXE : 0;
    if (ioctl(v.vcpu, KVM_SET_SREGS, &s)) return harness_error = "KVM_SET_SREGS", o;
    kvm_regs regs{};
    regs.rip = kCode;
    regs.rsp = kStack;
    regs.rflags = 2;
    regs.rdi = target_gva(c);
    regs.rsi = 0x5eed;
    if (ioctl(v.vcpu, KVM_SET_REGS, &regs)) return harness_error = "KVM_SET_REGS", o;
    for (int exits = 0; exits < 64; ++exits) {
        if (ioctl(v.vcpu, KVM_RUN, 0)) {
            if (errno == EINTR) continue;
            o.what = std::string("KVM_RUN ") + std::strerror(errno);
            break;
        }
        if (v.run->exit_reason == KVM_EXIT_IO) {
            const std::uint16_t port = v.run->io.port;
            if (ioctl(v.vcpu, KVM_GET_REGS, &regs)) return harness_error = "KVM_GET_REGS", o;
            o.what = port == kPortDone ? "completed" : port == kPortPf ? pf_text(regs.rax, regs.rbx) : port == kPortGp ? "#GP error code " + std::to_string(regs.rax) : "#DF";
            break;
        }
        if (v.run->exit_reason == KVM_EXIT_SHUTDOWN) {
            o.what = "KVM_EXIT_SHUTDOWN";
            break;
        }
        if (v.run->exit_reason == KVM_EXIT_MMIO) continue;  // an MMIO exit is answered and resumed
        o.what = "exit " + std::to_string(v.run->exit_reason);
        break;
    }
    for (std::uint64_t off : entry_offsets(c)) {
        std::uint64_t e = 0;
        std::memcpy(&e, pt + off, entry_size(c));
        o.entries.push_back(e);
    }
    if (mprotect(pt, kPtSize, PROT_READ | PROT_WRITE)) harness_error = "mprotect";
    return o;
}

// The same case on the model: the guest's code fetch, then its access (with #PF delivery
// through the IDT), on the kernel this machine runs.
Outcome run_model(const Case& c, std::uint64_t ram_hva, std::uint64_t pt_hva) {
    Outcome o;
    HostMm mm;
    (void)mm.mmap(Hva(ram_hva), kRamSize, Prot{true, true, false}, MappingKind::Anonymous, "ram");
    (void)mm.mmap(Hva(pt_hva), kPtSize, Prot{true, true, false}, MappingKind::Anonymous, "pt");
    kvm k(mm, *find_profile("mainline"), std::make_unique<X86Arch>(Platform::Pvm, VmType::Default));
    (void)k.set_user_memory_region({0, 0, 0, kRamSize, ram_hva});
    (void)k.set_user_memory_region({1, c.pt_readonly ? memflag::Readonly : 0u, kPtGpa, kPtSize, pt_hva});
    (void)k.create_vcpu(0);
    PtMemory m;
    m.read = [&](Gpa gpa, std::uint64_t& v, unsigned size) {
        v = 0;
        return mm.access_remote(Hva(pt_hva + gpa.value() - kPtGpa), std::span(reinterpret_cast<std::uint8_t*>(&v), size), false).is_ok();
    };
    m.write = [&](Gpa gpa, std::uint64_t v, unsigned size) {
        return mm.access_remote(Hva(pt_hva + gpa.value() - kPtGpa), std::span(reinterpret_cast<std::uint8_t*>(&v), size), true).is_ok();
    };
    (void)build_page_tables(table_spec(c), m);
    if (c.pt_host_readonly) (void)mm.mprotect(Hva(pt_hva), kPtSize, Prot{true, false, false});
    X86PagingState st;
    st.cr0 = x86::CR0_PG | (c.no_wp ? 0 : x86::CR0_WP) | 0x20 | 0x10 | x86::CR0_PE;
    st.cr3 = kPtGpa;
    st.cr4 = (c.mode == PagingMode::Bits32 ? 0 : x86::CR4_PAE) | (c.smap_user_target ? x86::CR4_SMEP | x86::CR4_SMAP : 0);
    st.efer = long_mode(c) ? x86::EFER_LME | x86::EFER_LMA | x86::EFER_NXE : c.mode == PagingMode::Pae ? x86::EFER_NXE : 0;
    // PAE: KVM_SET_SREGS loads the PDPTE registers from the PDPT at CR3 (load_pdptrs()).
    if (c.mode == PagingMode::Pae)
        (void)mm.access_remote(Hva(pt_hva), std::span(reinterpret_cast<std::uint8_t*>(st.pdptrs.data()), sizeof st.pdptrs), false);
    st.idt_base = Gva(kIdt);
    kvm_vcpu& vcpu = *k.vcpu(0);
    const GvaAccessResult f = x86_guest_access_gva(k, vcpu, Platform::Pvm, st, {Gva(kCode), c.op == Op::Fetch ? 2u : long_mode(c) ? 3u : 2u, GvaAccessType::Fetch, 0, 0, {}});
    const GvaAccessResult a = f.access.completed
                                  ? x86_guest_access_gva(k, vcpu, Platform::Pvm, st,
                                                         {Gva(target_gva(c)), c.op == Op::Fetch ? 1u : long_mode(c) ? 8u : 4u,
                                                          c.op == Op::Read ? GvaAccessType::Read : c.op == Op::Write ? GvaAccessType::Write : GvaAccessType::Fetch, 0, 0x5eed, {}})
                                  : f;
    if (a.access.completed) {
        o.what = "completed";
    } else {
        const VcpuEvent& e = a.access.events.front();
        if (e.kind == VcpuEvent::Kind::Exception && e.exception.vector == x86::kPfVector) o.what = pf_text(e.exception.error_code, e.exception.cr2);
        else if (e.kind == VcpuEvent::Kind::Exception && e.exception.vector == x86::kDfVector) o.what = "#DF";
        else if (e.kind == VcpuEvent::Kind::Exception && e.exception.vector == x86::kGpVector) o.what = "#GP error code " + std::to_string(e.exception.error_code);
        else if (e.kind == VcpuEvent::Kind::Exit && e.exit == Exit::Shutdown) o.what = "KVM_EXIT_SHUTDOWN";
        else o.what = "model event kind " + std::to_string(static_cast<int>(e.kind));
    }
    for (std::uint64_t off : entry_offsets(c)) {
        std::uint64_t e = 0;
        (void)mm.access_remote(Hva(pt_hva + off), std::span(reinterpret_cast<std::uint8_t*>(&e), entry_size(c)), false);
        o.entries.push_back(e);
    }
    return o;
}

}  // namespace

int main() {
    const int kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0) {
        std::printf("SKIP: /dev/kvm not usable here (%s)\n", std::strerror(errno));
        return 77;
    }
    auto* ram = static_cast<std::uint8_t*>(mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    auto* pt = static_cast<std::uint8_t*>(mmap(nullptr, kPtSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (ram == MAP_FAILED || pt == MAP_FAILED) return 1;
    static const char* names[] = {"entry 1", "entry 2", "entry 3", "entry 4", "entry 5"};  // entry_offsets()
    int agreed = 0, differed = 0;
    for (const Case& c : kCases) {
        std::string harness_error;
        const Outcome real = run_real(kvm_fd, c, ram, pt, harness_error);
        if (!harness_error.empty()) {
            std::printf("SKIP: the /dev/kvm harness failed at %s (%s)\n", harness_error.c_str(), std::strerror(errno));
            return 77;
        }
        const Outcome model = run_model(c, reinterpret_cast<std::uint64_t>(ram), reinterpret_cast<std::uint64_t>(pt));
        bool same = real.what == model.what;
        for (std::size_t i = 0; i < real.entries.size(); ++i) same = same && real.entries[i] == model.entries[i];
        if (same) {
            ++agreed;
            std::printf("same %-55s %s\n", c.name, real.what.c_str());
            continue;
        }
        ++differed;
        std::printf("DIFF %s:\n  kernel: %s\n  model:  %s\n", c.name, real.what.c_str(), model.what.c_str());
        for (std::size_t i = 0; i < real.entries.size(); ++i)
            std::printf("  %-12s kernel %#llx model %#llx%s\n", names[i], static_cast<unsigned long long>(real.entries[i]),
                        static_cast<unsigned long long>(model.entries[i]), real.entries[i] == model.entries[i] ? "" : "  <--");
    }
    std::printf("page-walk replay on /dev/kvm: %d of %zu cases agree with the model\n", agreed, kCases.size());
    return differed ? 1 : 0;
}
