// A kernel profile: a named kernel release (or a release plus a proposed patch) as the set of
// patch toggles it has. The model asks `has(Patch::X)` at the patch's decision point.
#pragma once

#include <bitset>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "patch.h"

namespace kvmsim {

class Profile {
public:
    Profile() = default;
    Profile(std::string name, std::initializer_list<Patch> patches);

    [[nodiscard]] bool has(Patch p) const { return applied_.test(static_cast<std::size_t>(p)); }
    void apply(Patch p) { applied_.set(static_cast<std::size_t>(p)); }
    void revert(Patch p) { applied_.reset(static_cast<std::size_t>(p)); }
    [[nodiscard]] const std::string& name() const { return name_; }
    void set_name(std::string n) { name_ = std::move(n); }

private:
    std::string name_;
    std::bitset<static_cast<std::size_t>(Patch::Count)> applied_;
};

struct ProfileInfo {
    std::string_view name;
    std::string_view description;
    std::string_view arch;  // "x86_64", "arm64" or "any"
    std::string_view series = {};   // the posted series a non-upstream profile models
    std::string_view subject = {};  // the patch the profile is built around (a seed's subject)
};

// Whether a profile runs scenarios of this architecture.
[[nodiscard]] bool profile_supports_arch(std::string_view profile, std::string_view arch);

[[nodiscard]] std::span<const ProfileInfo> all_profiles();
// The profile by name, with its patch set; nullopt for an unknown name.
[[nodiscard]] std::optional<Profile> find_profile(std::string_view name);

}  // namespace kvmsim
