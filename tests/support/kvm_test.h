// Shared test helpers: a VM on a chosen profile and platform, doctest printers that show errno
// names instead of numbers, and raw-vs-checked wrappers around KVM_SET_USER_MEMORY_REGION.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <sstream>
#include <string>
#include <string_view>

#include "model/errno.h"
#include "model/host/host_mm.h"
#include "model/kvm/kvm.h"
#include "model/kvm/translate.h"
#include "model/profile/profile.h"
#include "model/result.h"
#include "model/trace.h"
#include "model/x86/x86_arch.h"

namespace doctest {
template <>
struct StringMaker<kvmsim::KvmResult> {
    static String convert(const kvmsim::KvmResult& r) {
        if (r.is_ok()) return ("ok(" + std::to_string(r.value()) + ")").c_str();
        return ("-1 " + std::string(kvmsim::to_string(*r.err()))).c_str();
    }
};
template <>
struct StringMaker<kvmsim::Errno> {
    static String convert(kvmsim::Errno e) { return std::string(kvmsim::to_string(e)).c_str(); }
};
template <>
struct StringMaker<std::optional<kvmsim::PfnError>> {
    static String convert(const std::optional<kvmsim::PfnError>& e) {
        return e ? std::string(kvmsim::to_string(*e)).c_str() : "no error";
    }
};
template <>
struct StringMaker<std::optional<kvmsim::HvaError>> {
    static String convert(const std::optional<kvmsim::HvaError>& e) {
        return e ? std::string(kvmsim::to_string(*e)).c_str() : "no error";
    }
};
}  // namespace doctest

namespace kvmsim::test {

inline constexpr std::uint64_t PG = PAGE_SIZE;
inline constexpr KvmResult OK = KvmResult::ok();
inline constexpr KvmResult EINVAL_ = KvmResult::error(Errno::Einval);
inline constexpr KvmResult EEXIST_ = KvmResult::error(Errno::Eexist);
inline constexpr KvmResult EFAULT_ = KvmResult::error(Errno::Efault);

// A VM on one kernel profile and platform, with its own host address space.
struct Vm {
    HostMm mm;
    kvm k;

    explicit Vm(std::string_view profile = "mainline", Platform platform = Platform::Pvm, VmType type = VmType::Default)
        : k(mm, load(profile), std::make_unique<X86Arch>(platform, type)) {}

    static Profile load(std::string_view name) {
        auto p = find_profile(name);
        REQUIRE_MESSAGE(p.has_value(), "unknown profile " << name);
        return *p;
    }

    KvmResult set(std::uint32_t slot, std::uint32_t flags, std::uint64_t gpa, std::uint64_t size, std::uint64_t uaddr) {
        return k.set_user_memory_region({slot, flags, gpa, size, uaddr});
    }
    void map(std::uint64_t hva, std::uint64_t size, Prot prot = {.read = true, .write = true},
             MappingKind kind = MappingKind::Anonymous) {
        const KvmResult r = mm.mmap(Hva(hva), size, prot, kind, "test");
        INFO("mmap(" << hex(hva) << ", " << hex(size) << ")");
        REQUIRE(r == OK);
    }
};

inline std::string describe(const kvm_userspace_memory_region& m) {
    std::ostringstream s;
    s << "{slot=" << hex(m.slot) << " (as_id " << (m.slot >> 16) << ", id " << (m.slot & 0xffff) << "), flags=" << hex(m.flags)
      << ", guest_phys_addr=" << hex(m.guest_phys_addr) << ", memory_size=" << hex(m.memory_size)
      << ", userspace_addr=" << hex(m.userspace_addr) << "}";
    return s.str();
}

inline std::string flags_name(std::uint32_t f) {
    std::string s;
    if (f & memflag::LogDirtyPages) s += "LOG_DIRTY_PAGES|";
    if (f & memflag::Readonly) s += "READONLY|";
    if (f & ~(memflag::LogDirtyPages | memflag::Readonly)) s += hex(f & ~(memflag::LogDirtyPages | memflag::Readonly)) + "|";
    return s.empty() ? "0" : s.substr(0, s.size() - 1);
}

}  // namespace kvmsim::test

// Raw call: compares the exact result and, on a mismatch, prints the ioctl and its inputs.
#define CHECK_SET_REGION(vm, expected, slot, flags, gpa, size, uaddr)                                         \
    do {                                                                                                      \
        const ::kvmsim::kvm_userspace_memory_region mem_ = {(slot), (flags), (gpa), (size), (uaddr)};         \
        INFO("KVM_SET_USER_MEMORY_REGION " << ::kvmsim::test::describe(mem_));                                \
        CHECK((vm).k.set_user_memory_region(mem_) == (expected));                                             \
    } while (0)

// Checked call for a step the test depends on: stops the test with inputs and errno name on failure.
#define REQUIRE_SET_REGION_OK(vm, slot, flags, gpa, size, uaddr)                                              \
    do {                                                                                                      \
        const ::kvmsim::kvm_userspace_memory_region mem_ = {(slot), (flags), (gpa), (size), (uaddr)};         \
        const ::kvmsim::KvmResult r_ = (vm).k.set_user_memory_region(mem_);                                   \
        INFO("KVM_SET_USER_MEMORY_REGION " << ::kvmsim::test::describe(mem_) << " failed with "               \
                                           << (r_.err() ? ::kvmsim::to_string(*r_.err()) : "nothing"));       \
        REQUIRE(r_ == ::kvmsim::KvmResult::ok());                                                             \
    } while (0)

// Any KvmResult-returning call that must succeed.
#define REQUIRE_OK(...)                                                                                       \
    do {                                                                                                      \
        const ::kvmsim::KvmResult r_ = (__VA_ARGS__);                                                         \
        INFO(#__VA_ARGS__ << " failed with " << (r_.err() ? ::kvmsim::to_string(*r_.err()) : "nothing"));           \
        REQUIRE(r_ == ::kvmsim::KvmResult::ok());                                                             \
    } while (0)
