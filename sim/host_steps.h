// Host memory steps that punch holes and hand faults to userfaultfd (docs/scenarios.md, "Holes
// and userfaultfd"): host_madvise, host_fallocate, host_uffd_register, host_uffd_faults. The
// parsers here serve validation and every backend, so all report the same error for a bad field.
#pragma once

#include <string>

#include "fields.h"
#include "model/host/host_mm.h"

namespace kvmsim::sim {

[[nodiscard]] bool is_hole_op(const std::string& op);

// What a scenario's mapping flags ask for ("shared", "pfnmap", "memfd"); throws at `path` on an
// unknown flag or a contradiction.
void check_mapping_flags(const std::vector<std::string>& flags, const std::string& path);
// A "hugetlb" mapping's hva and size are multiples of the 2M huge page.
// Only arm64 models what KVM does with huge pages (its stage-2 blocks).
void check_hugetlb_mapping(const std::string& arch, const std::vector<std::string>& flags, std::uint64_t hva, std::uint64_t size, const std::string& path);

// Load-time checks the field kinds cannot make: the advice, the fallocate mode, the uffd answer,
// and that host_fallocate names a memfd mapping declared before it.
void check_hole_step(const Scenario& s, const Step& step, const StepFields& f);

// The mode list of host_fallocate (FALLOC_FL_PUNCH_HOLE, FALLOC_FL_KEEP_SIZE).
FallocMode falloc_mode(const StepFields& f);
// How host_uffd_register's handler answers: "serve" UFFDIO_COPY (with "pattern") or UFFDIO_ZEROPAGE.
UffdServe uffd_serve(const StepFields& f);

}  // namespace kvmsim::sim
