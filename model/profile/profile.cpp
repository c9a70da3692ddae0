#include "profile.h"

#include <array>
#include <utility>

namespace kvmsim {

Profile::Profile(std::string name, std::initializer_list<Patch> patches) : name_(std::move(name)) {
    for (Patch p : patches) apply(p);
}

namespace {

constexpr std::array kProfiles = {
    ProfileInfo{"v3.6", "Linux 3.6 (2012), the last release before read-only memslots: no flag check, 32 x86 slots", "any"},
    ProfileInfo{"v3.7", "Linux 3.7: v3.6 plus the read-only memslot series (KVM_MEM_READONLY, KVM_CAP_READONLY_MEM)", "any"},
    ProfileInfo{"v3.11", "Linux 3.11, the last release before \"KVM: mmu: allow page tables to be in read-only slots\": every modelled patch released by then", "x86_64"},
    ProfileInfo{"v3.12", "Linux 3.12: v3.11 plus ro-page-tables (guest page tables may live in read-only slots)", "x86_64"},
    ProfileInfo{"mainline", "Linux 6.18, the kernel on the project's machines (every modelled patch applied)", "any"},
};

// "v3.11" -> {3, 11}
std::pair<int, int> release_number(std::string_view r) {
    int major = 0, minor = 0;
    std::size_t i = r.starts_with('v') ? 1 : 0;
    for (; i < r.size() && r[i] != '.'; ++i) major = major * 10 + (r[i] - '0');
    for (++i; i < r.size(); ++i) minor = minor * 10 + (r[i] - '0');
    return {major, minor};
}

// Every modelled patch whose first release is at or before `release`.
Profile profile_at_release(std::string name, std::string_view release) {
    Profile p(std::move(name), {});
    for (const PatchInfo& info : all_patches())
        if (release_number(info.release) <= release_number(release)) p.apply(info.patch);
    return p;
}

}  // namespace

std::span<const ProfileInfo> all_profiles() { return kProfiles; }

std::optional<Profile> find_profile(std::string_view name) {
    if (name == "v3.6") return Profile("v3.6", {});
    if (name == "v3.7") return Profile("v3.7", {Patch::FlagsCheck, Patch::HideMemslotInvalid, Patch::ReadonlyMemslot});
    if (name == "v3.11" || name == "v3.12") return profile_at_release(std::string(name), name);
    if (name == "mainline") {
        Profile p("mainline", {});
        for (std::size_t i = 0; i < static_cast<std::size_t>(Patch::Count); ++i) p.apply(static_cast<Patch>(i));
        return p;
    }
    return std::nullopt;
}

}  // namespace kvmsim
