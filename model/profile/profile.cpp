#include "profile.h"

#include <array>

namespace kvmsim {

Profile::Profile(std::string name, std::initializer_list<Patch> patches) : name_(std::move(name)) {
    for (Patch p : patches) apply(p);
}

namespace {

constexpr std::array kProfiles = {
    ProfileInfo{"v3.6", "Linux 3.6 (2012), the last release before read-only memslots: no flag check, 32 x86 slots", "any"},
    ProfileInfo{"v3.7", "Linux 3.7: v3.6 plus the read-only memslot series (KVM_MEM_READONLY, KVM_CAP_READONLY_MEM)", "any"},
    ProfileInfo{"mainline", "Linux 6.18, the kernel on the project's machines (every modelled patch applied)", "any"},
};

}  // namespace

std::span<const ProfileInfo> all_profiles() { return kProfiles; }

std::optional<Profile> find_profile(std::string_view name) {
    if (name == "v3.6") return Profile("v3.6", {});
    if (name == "v3.7") return Profile("v3.7", {Patch::FlagsCheck, Patch::HideMemslotInvalid, Patch::ReadonlyMemslot});
    if (name == "mainline") {
        Profile p("mainline", {});
        for (std::size_t i = 0; i < static_cast<std::size_t>(Patch::Count); ++i) p.apply(static_cast<Patch>(i));
        return p;
    }
    return std::nullopt;
}

}  // namespace kvmsim
