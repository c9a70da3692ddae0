// The VM's stage-2 page table (struct kvm_pgtable, arch/arm64/kvm/hyp/pgtable.c) at page
// granularity: which IPA pages are mapped, to what host page, with which permissions. A guest
// access that finds its permission here never reaches KVM; anything else is a stage-2 abort.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

#include "../types.h"

namespace kvmsim {

// KVM_PGTABLE_PROT_R / _W / _X
struct Stage2Prot {
    bool r = false;
    bool w = false;
    bool x = false;
};

struct Stage2Pte {
    Hva hva;  // the host page the pfn came from (the model reaches memory through it)
    Pfn pfn;
    Stage2Prot prot;
    bool realm_protected = false;  // a realm's protected granule: its memory is the realm's, not the hva's
    unsigned level = 3;            // the level of the leaf: 3 for a page, 2 for a 2M block (each of its pages has an entry)
};

class Stage2 {
public:
    [[nodiscard]] const Stage2Pte* lookup(Gfn gfn) const;
    // models kvm_pgtable_stage2_map(): installs or replaces one page; a block holding it is
    // replaced by a table with only that page (stage2_map_walk_table_pre(): break-before-make).
    void map(Gfn gfn, const Stage2Pte& pte);
    // models kvm_pgtable_stage2_map() of a level-2 block: `pages` entries from `first` (aligned),
    // the i-th with hva and pfn advanced by i pages.
    void map_block(Gfn first, std::uint64_t pages, const Stage2Pte& head);
    // models kvm_pgtable_stage2_relax_perms(): adds permissions to a present page, or to the whole block holding it.
    void relax(Gfn gfn, Stage2Prot add);
    // models kvm_pgtable_stage2_unmap() over [start, end); returns how many pages were mapped.
    // A block that overlaps the range goes whole.
    std::uint64_t unmap(Gfn start, Gfn end);
    // models kvm_pgtable_stage2_wrprotect() over [start, end).
    void wrprotect(Gfn start, Gfn end);
    // The level whose entry stops the hardware walk to an unmapped gfn, the level ESR_EL2's
    // fault status names (stage2_map_walker() installs tables only down to a mapped page, and
    // stage2_unmap_walker() frees a table once it is empty): the first level from `start_level`
    // whose entry covers no mapped page.
    [[nodiscard]] unsigned translation_fault_level(Gfn gfn, unsigned start_level) const;

private:
    std::map<std::uint64_t, Stage2Pte> ptes_;  // by gfn
};

}  // namespace kvmsim
