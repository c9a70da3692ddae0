#include "profile.h"

#include <array>
#include <utility>

namespace kvmsim {

Profile::Profile(std::string name, std::initializer_list<Patch> patches) : name_(std::move(name)) {
    for (Patch p : patches) apply(p);
}

namespace {

constexpr std::array kProfiles = {
    ProfileInfo{"v3.6", "Linux 3.6 (2012), the last release before read-only memslots: no flag check, 32 x86 slots", "x86_64"},
    ProfileInfo{"v3.7", "Linux 3.7: v3.6 plus the read-only memslot series (KVM_MEM_READONLY, KVM_CAP_READONLY_MEM)", "x86_64"},
    ProfileInfo{"v3.11", "Linux 3.11, the last release before \"KVM: mmu: allow page tables to be in read-only slots\": every modelled upstream patch released by then", "x86_64"},
    ProfileInfo{"v3.12", "Linux 3.12: v3.11 plus ro-page-tables (guest page tables may live in read-only slots)", "x86_64"},
    ProfileInfo{"v6.1", "Linux 6.1 (Debian 12's kernel, booted by the qemu backends): every modelled upstream patch released by 6.1, plus the stable backports Debian's 6.1.y carries (arm64-s1ptw-ro-fix, in 6.1.7)", "any"},
    ProfileInfo{"v6.12", "Linux 6.12 (Debian 12's backports kernel, booted by the qemu backends): every modelled upstream patch released by 6.12", "any"},
    ProfileInfo{"mainline", "Linux 6.18, the kernel on the project's machines (every upstream patch modelled)", "any"},
    // arm64 profiles: posted series on top of the upstream patches of their base (docs/arm64.md)
    ProfileInfo{"cca-v7", "Arm CCA v7 (13 Feb 2025, on 6.14-rc): realm VMs; the hide-list hides READONLY_MEM and SET_GUEST_DEBUG", "arm64",
                "[PATCH v7 00/45] arm64: Support for Arm CCA in KVM", "[PATCH v7 34/45] kvm: rme: Hide KVM_CAP_READONLY_MEM for realm guests"},
    ProfileInfo{"cca-v10", "Arm CCA v8-v10 (Apr-Aug 2025): v7 plus hidden debug caps and COUNTER_OFFSET", "arm64",
                "[PATCH v10 00/43] arm64: Support for Arm CCA in KVM", "[PATCH v10 33/43] arm64: RME: Hide KVM_CAP_READONLY_MEM for realm guests"},
    ProfileInfo{"cca-v12", "Arm CCA v11-v13 (Dec 2025-Mar 2026): realms answer only an allow-list of caps; no RMM gives EINVAL", "arm64",
                "[PATCH v12 00/46] arm64: Support for Arm CCA in KVM", "[PATCH v12 08/46] kvm: arm64: Don't expose unsupported capabilities for realm guests"},
    ProfileInfo{"cca-v14", "Arm CCA v14 (13 May 2026, on v7.1-rc1): REALM type bit 30, no PMU on the allow-list, KVM_ENABLE_CAP checked too", "arm64",
                "[PATCH v14 00/44] arm64: Support for Arm CCA in KVM", "kvm: arm64: Don't expose unsupported capabilities for realm guests (v14, \"Add missing check\")"},
    ProfileInfo{"lock-v4-02", "The memslot lock RFC v4 up to its patch 02 (on v5.14): the API exists but lock support reads 0", "arm64",
                "[RFC PATCH v4 00/39] KVM: arm64: Add Statistical Profiling Extension (SPE) support", "[RFC PATCH v4 02/39] KVM: arm64: Add lock/unlock memslot user API"},
    ProfileInfo{"lock-v4", "The memslot lock RFC v4, patches 01-11 (25 Aug 2021, on v5.14)", "arm64",
                "[RFC PATCH v4 00/39] KVM: arm64: Add Statistical Profiling Extension (SPE) support", "[RFC PATCH v4 11/39] KVM: arm64: Allow userspace to lock and unlock memslots"},
    ProfileInfo{"lock-v5", "The memslot lock RFC v5, patches 01-12 (17 Nov 2021, on v5.16-rc1): cap 207, lock after run, EINVAL for unlocking an unlocked slot", "arm64",
                "[RFC PATCH v5 00/38] KVM: arm64: Add Statistical Profiling Extension (SPE) support", "[RFC PATCH v5 02/38] KVM: arm64: Add lock/unlock memslot user API"},
};

// "v3.11" -> {3, 11}
std::pair<int, int> release_number(std::string_view r) {
    int major = 0, minor = 0;
    std::size_t i = r.starts_with('v') ? 1 : 0;
    for (; i < r.size() && r[i] != '.'; ++i) major = major * 10 + (r[i] - '0');
    for (++i; i < r.size(); ++i) minor = minor * 10 + (r[i] - '0');
    return {major, minor};
}

// Every modelled upstream patch whose first release is at or before `release`.
Profile profile_at_release(std::string name, std::string_view release) {
    Profile p(std::move(name), {});
    for (const PatchInfo& info : all_patches())
        if (info.series.empty() && release_number(info.release) <= release_number(release)) p.apply(info.patch);
    return p;
}

// Every upstream patch: what a release at or after the newest of them has.
Profile upstream(std::string name) {
    Profile p(std::move(name), {});
    for (const PatchInfo& info : all_patches())
        if (info.series.empty()) p.apply(info.patch);
    return p;
}

// The upstream base of the lock RFC (v5.14 for v4, v5.16-rc1 for v5): upstream without the
// patches merged after it.
Profile lock_base(std::string name) {
    Profile p = upstream(std::move(name));
    for (Patch later : {Patch::UserMemory2, Patch::MaxGfnCheck, Patch::Arm64S1ptwRoFix, Patch::Arm64CounterOffset}) p.revert(later);
    return p;
}

}  // namespace

std::span<const ProfileInfo> all_profiles() { return kProfiles; }

std::optional<Profile> find_profile(std::string_view name) {
    if (name == "v3.6") return Profile("v3.6", {});
    if (name == "v3.7") return Profile("v3.7", {Patch::FlagsCheck, Patch::HideMemslotInvalid, Patch::ReadonlyMemslot});
    if (name == "v6.1") {
        // Debian's 6.1 is 6.1.y stable: it carries the stable backports of later fixes. The
        // S1PTW fix went to 6.1.7 (Debian's changelog, "New upstream stable update ...
        // ChangeLog-6.1.7": "[arm64] KVM: arm64: Fix S1PTW handling on RO memslots"); the
        // booted 6.1.0-57 (6.1.192) reads tables in a read-only slot as 6.12 does.
        Profile p = profile_at_release(std::string(name), name);
        p.apply(Patch::Arm64S1ptwRoFix);
        return p;
    }
    if (name == "v3.11" || name == "v3.12" || name == "v6.12") return profile_at_release(std::string(name), name);
    if (name == "mainline") return upstream("mainline");
    if (name.starts_with("cca-")) {
        Profile p = upstream(std::string(name));
        const bool v10 = name == "cca-v10", v12 = name == "cca-v12", v14 = name == "cca-v14";
        if (name != "cca-v7" && !v10 && !v12 && !v14) return std::nullopt;
        p.apply(Patch::CcaRealm);
        p.apply(Patch::CcaRuntimeFault);
        if (!v12 && !v14) {
            p.apply(Patch::CcaHideReadonlyMem);
            if (v10) p.apply(Patch::CcaHideDebugCaps), p.apply(Patch::CcaHideCounterOffset);
            return p;
        }
        p.apply(Patch::CcaExtAllowList);
        p.apply(Patch::CcaRealmEinval);
        p.apply(Patch::CcaPrivateNeedsGmem);
        if (v14) p.apply(Patch::CcaVmTypeBit30), p.apply(Patch::CcaAllowListNoPmu), p.apply(Patch::CcaEnableCapCheck);
        return p;
    }
    if (name == "lock-v4-02") {
        Profile p = lock_base("lock-v4-02");
        p.apply(Patch::LockApi);
        return p;
    }
    if (name == "lock-v4" || name == "lock-v5") {
        Profile p = lock_base(std::string(name));
        for (Patch x : {Patch::LockApi, Patch::LockImpl, Patch::LockDenyChanges, Patch::LockWarnFaults, Patch::LockAllow}) p.apply(x);
        if (name == "lock-v5")
            for (Patch x : {Patch::LockV5Cap207, Patch::LockV5RunAllowed, Patch::LockV5UnlockEinval, Patch::LockV5UnmapOnUnlock}) p.apply(x);
        return p;
    }
    return std::nullopt;
}

bool profile_supports_arch(std::string_view profile, std::string_view arch) {
    for (const ProfileInfo& p : kProfiles)
        if (p.name == profile) return p.arch == "any" || p.arch == arch;
    return false;
}

}  // namespace kvmsim
