#!/usr/bin/env bash
# usage: hostile.sh KVMSIM CPU_SECONDS MEM_KIB FILE...
# Runs each hostile scenario under `run`, `run --json`, `validate` and `explain`, each in a shell
# limited to CPU_SECONDS of CPU time and MEM_KIB of address space (MEM_KIB 0: no memory limit,
# for sanitizer builds whose shadow memory needs terabytes of address space). Every command must
# end with exit 0, 1, 2 or 4 (nothing checked): never a signal (SIGXCPU is the CPU limit), never exit 3 (internal error).
set -u
kvmsim=$1 cpu=$2 mem=$3
shift 3
bad=0
for f in "$@"; do
  for cmd in "run" "run --json" "validate" "explain"; do
    (
      ulimit -t "$cpu"
      # With no address-space limit (sanitizer builds), ASan's own RSS watchdog bounds memory
      # instead, and its report exits 86, which counts as a failure here.
      [ "$mem" -gt 0 ] && ulimit -v "$mem"
      [ "$mem" -eq 0 ] && export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=2048:exitcode=86"
      # shellcheck disable=SC2086
      exec "$kvmsim" $cmd "$f" >/dev/null 2>/tmp/hostile.$$.err
    )
    rc=$?
    if [ "$rc" -gt 2 ] && [ "$rc" -ne 4 ]; then
      echo "FAIL $f: kvmsim $cmd exited $rc (limits: ${cpu}s CPU, ${mem} KiB): $(head -c 300 /tmp/hostile.$$.err)"
      bad=1
    fi
  done
  echo "ok $f"
done
rm -f /tmp/hostile.$$.err
exit $bad
