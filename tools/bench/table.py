#!/usr/bin/env python3
"""Turns kvmsim-bench's JSON (--benchmark_out=FILE --benchmark_out_format=json, with
--benchmark_repetitions=N) into the Markdown tables of docs/performance.md: medians, each goal
of issue 12 beside its figure and the baselines of the same run."""
import json
import sys

runs = {}
for b in json.load(open(sys.argv[1]))["benchmarks"]:
    if b.get("aggregate_name", "median") != "median":
        continue
    name = b["run_name"].replace("/real_time", "")
    scale = {"ns": 1, "us": 1e3, "ms": 1e6}[b["time_unit"]]
    runs[name] = (b["real_time"] * scale, b["cpu_time"] * scale, b.get("error_occurred", False))


def ns(name, cpu=True):
    r = runs.get(name)
    if not r or r[2]:
        return None
    return r[1] if cpu else r[0]


def fmt(v):
    if v is None:
        return "skipped"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.1f} µs"
    return f"{v:.1f} ns"


def rate(v):
    return "skipped" if v is None else f"{1e3 / v:.1f} M/s"


print("| Measure | 10 slots | 16 slots | 1024 slots | 32764 slots | 32764 / 10 |")
print("|---|---|---|---|---|---|")
for label, key in [("gfn_to_memslot, cache miss (model)", "BM_Model_CacheMiss"),
                   ("gfn_to_memslot, no slot (model)", "BM_Model_NoSlot"),
                   ("gfn_to_memslot, VM cache hit (model)", "BM_Model_CacheHit"),
                   ("kvm_vcpu_gfn_to_memslot, vCPU cache hit (model)", "BM_Model_VcpuCacheHit"),
                   ("baseline: sorted array, std::upper_bound", "BM_Baseline_SortedArray"),
                   ("baseline: pre-5.17 kernel array (search_memslots, lru missing)", "BM_Baseline_Pre517Array")]:
    v = [ns(f"{key}/{n}") for n in (10, 16, 1024, 32764)]
    ratio = f"{v[3] / v[0]:.1f}x" if v[0] and v[3] else "-"
    print(f"| {label} | " + " | ".join(fmt(x) for x in v) + f" | {ratio} |")
print()
print("| Throughput | 16 slots | 32764 slots |")
print("|---|---|---|")
for label, key in [("translations (kvm_vcpu_gfn_to_memslot + __gfn_to_pfn_memslot)", "BM_Model_Translate"),
                   ("4-level walks (walk_addr_generic, A/D set)", "BM_Model_Walk")]:
    print(f"| {label} | {rate(ns(key + '/16'))} | {rate(ns(key + '/32764'))} |")
print()
print("| Memslot change (one create + delete, or a move and back) | 10 slots | 32764 slots |")
print("|---|---|---|")
for label, key, cpu in [("model: create + delete", "BM_Model_CreateDelete", True),
                        ("model: move twice", "BM_Model_MoveTwice", True),
                        ("baseline: pre-5.17 copy-the-whole-array create + delete", "BM_Baseline_Pre517CreateDelete", True),
                        ("baseline: real KVM_SET_USER_MEMORY_REGION create + delete, wall time", "BM_Kvm_CreateDelete", False),
                        ("baseline: the same, CPU time of the calling thread", "BM_Kvm_CreateDelete", True)]:
    print(f"| {label} | {fmt(ns(key + '/10', cpu))} | {fmt(ns(key + '/32764', cpu))} |")
print(f"| model: 32764 creates into an empty table | | {fmt(ns('BM_Model_CreateAllSlots'))} |")
print()
print("| Process start-up (spawn + exit, wall time) | |")
print("|---|---|")
for label, key in [("baseline: /bin/true", "BM_Baseline_ProcessTrue"),
                   ("kvmsim validate, one small scenario", "BM_Process_KvmsimValidate"),
                   ("kvmsim run, one small scenario", "BM_Process_KvmsimRun")]:
    print(f"| {label} | {fmt(ns(key, False))} |")
