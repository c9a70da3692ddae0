#include "host_steps.h"

#include <algorithm>

#include "limits.h"
#include "model/host/vma.h"
#include "model/trace.h"

namespace kvmsim::sim {
namespace {

bool has_flag(const std::vector<std::string>& flags, const char* flag) { return std::find(flags.begin(), flags.end(), flag) != flags.end(); }

// The flags of the mapping called `name`, from host.mmap or a host_mmap step before `before`.
std::optional<std::vector<std::string>> mapping_flags(const Scenario& s, const std::string& name, std::size_t before) {
    for (const HostMapping& m : s.mmaps)
        if (m.name == name) return m.flags;
    for (const Step& st : s.steps) {
        if (st.index >= before || st.op != "host_mmap") continue;
        const StepFields f(st, s);
        if (f.string("name") == name) return f.has("flags") ? f.string_list("flags") : std::vector<std::string>{};
    }
    return std::nullopt;
}

}  // namespace

bool is_hole_op(const std::string& op) {
    return op == "host_madvise" || op == "host_fallocate" || op == "host_uffd_register" || op == "host_uffd_faults";
}

void check_mapping_flags(const std::vector<std::string>& flags, const std::string& path) {
    for (std::size_t j = 0; j < flags.size(); ++j)
        if (flags[j] != "shared" && flags[j] != "pfnmap" && flags[j] != "memfd" && flags[j] != "hugetlb")
            throw ScenarioError(path + "/" + std::to_string(j), "expected \"shared\", \"pfnmap\", \"memfd\" or \"hugetlb\", got \"" + flags[j] + "\"");
    if (has_flag(flags, "memfd") && has_flag(flags, "pfnmap"))
        throw ScenarioError(path, "\"memfd\" (a MAP_SHARED memfd) and \"pfnmap\" (a device's VM_PFNMAP) cannot both hold");
    if (has_flag(flags, "hugetlb") && flags.size() > 1)
        throw ScenarioError(path, "\"hugetlb\" is a private MAP_HUGETLB mapping of its own: it goes with no other flag");
}

void check_hugetlb_mapping(const std::string& arch, const std::vector<std::string>& flags, std::uint64_t hva, std::uint64_t size, const std::string& path) {
    if (!has_flag(flags, "hugetlb")) return;
    if (arch != "arm64") throw ScenarioError(path + "/flags", "\"hugetlb\" mappings are modelled on arm64 only (the stage-2 blocks of user_mem_abort())");
    constexpr std::uint64_t huge = std::uint64_t{1} << HPAGE_PMD_SHIFT;
    if (hva % huge || size % huge || size == 0)
        throw ScenarioError(path, "a \"hugetlb\" mapping is made of 2M huge pages: hva and size must be non-zero multiples of 2M");
}

void check_hole_step(const Scenario& s, const Step& step, const StepFields& f) {
    if (step.op == "host_mmap" && f.has("flags")) {
        check_mapping_flags(f.string_list("flags"), f.path("flags"));
        check_hugetlb_mapping(s.arch, f.string_list("flags"), f.u64("hva"), f.u64("size"), step.path);
    }
    if (step.op == "host_madvise" && f.string("advice") != "MADV_DONTNEED")
        throw ScenarioError(f.path("advice"), "expected \"MADV_DONTNEED\" (the only advice modelled), got \"" + f.string("advice") + "\"");
    if (step.op == "host_fallocate") {
        (void)falloc_mode(f);
        const std::string name = f.string("mapping");
        const auto flags = mapping_flags(s, name, step.index);
        if (!flags) throw ScenarioError(f.path("mapping"), "no host mapping named \"" + name + "\" before this step");
        if (!has_flag(*flags, "memfd"))
            throw ScenarioError(f.path("mapping"), "mapping \"" + name + "\" has no file: fallocate needs a mapping with the flag \"memfd\"");
    }
    if (step.op == "host_uffd_register") {
        const UffdServe serve = uffd_serve(f);
        if (f.string("serve") == "UFFDIO_ZEROPAGE" && (f.has("pattern") || f.has("content")))
            throw ScenarioError(f.path(f.has("pattern") ? "pattern" : "content"), "UFFDIO_ZEROPAGE fills the page with zeros; \"pattern\" and \"content\" go with UFFDIO_COPY");
        if (serve.snapshot && f.has("pattern"))
            throw ScenarioError(f.path("pattern"), "\"content\": \"snapshot\" copies what the range held at registration; \"pattern\" goes with \"content\": \"pattern\"");
        // A whole-range answer installs every page of the range at once: bounded like every
        // other way of touching pages (docs/limits.md).
        if (serve.whole_range && f.u64("size") > kMaxUffdRangeCopy)
            throw ScenarioError(f.path("size"), "\"unit\": \"range\" copies the whole range on each fault; at most " + hex(kMaxUffdRangeCopy) +
                                                     " bytes (docs/limits.md)");
        if (serve.snapshot && f.u64("size") > kMaxUffdRangeCopy)
            throw ScenarioError(f.path("size"), "\"content\": \"snapshot\" keeps a copy of the range; at most " + hex(kMaxUffdRangeCopy) + " bytes (docs/limits.md)");
    }
}

FallocMode falloc_mode(const StepFields& f) {
    FallocMode m;
    const auto list = f.string_list("mode");
    for (std::size_t i = 0; i < list.size(); ++i) {
        if (list[i] == "FALLOC_FL_PUNCH_HOLE") m.punch_hole = true;
        else if (list[i] == "FALLOC_FL_KEEP_SIZE") m.keep_size = true;
        else
            throw ScenarioError(f.path("mode") + "/" + std::to_string(i),
                                "expected \"FALLOC_FL_PUNCH_HOLE\" or \"FALLOC_FL_KEEP_SIZE\", got \"" + list[i] + "\"");
    }
    // Preallocation (no PUNCH_HOLE) is not modelled: shmem_fallocate() would allocate pages.
    if (!m.punch_hole)
        throw ScenarioError(f.path("mode"), "the mode needs \"FALLOC_FL_PUNCH_HOLE\" (preallocation is not modelled; docs/scenarios.md)");
    return m;
}

UffdServe uffd_serve(const StepFields& f) {
    UffdServe s;
    const std::string how = f.string("serve");
    if (how == "UFFDIO_COPY") s.how = UffdServe::How::Copy;
    else if (how == "UFFDIO_ZEROPAGE") s.how = UffdServe::How::ZeroPage;
    else throw ScenarioError(f.path("serve"), "expected \"UFFDIO_COPY\" or \"UFFDIO_ZEROPAGE\", got \"" + how + "\"");
    s.pattern = f.u64_or("pattern", 0);
    const std::string content = f.string_or("content", "pattern");
    if (content != "pattern" && content != "snapshot")
        throw ScenarioError(f.path("content"), "expected \"pattern\" or \"snapshot\", got \"" + content + "\"");
    s.snapshot = content == "snapshot";
    const std::string unit = f.string_or("unit", "page");
    if (unit != "page" && unit != "range") throw ScenarioError(f.path("unit"), "expected \"page\" or \"range\", got \"" + unit + "\"");
    s.whole_range = unit == "range";
    return s;
}

}  // namespace kvmsim::sim
