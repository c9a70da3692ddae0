#!/usr/bin/env python3
"""Runs every kvmsim command shown in README.md and docs/*.md, from the repository root.

A command is a line of a fenced code block that starts with `kvmsim`, `build/tools/kvmsim` or
`$ kvmsim`, or an inline `code` span that does and names a path; its trailing `# comment` is
dropped. It passes
when it exits 0, 1 (an example may show a failure) or 4; exit 2 (usage, bad input, a missing
file) or 3 (internal error) means the documentation has gone stale. Not run, and counted:
synopsis lines with placeholders (FILE, PATH..., DIR, [options], …); commands that need
/dev/kvm where it cannot be used; fuzz runs of 1000 sequences or more (minutes).
Usage: doc_commands.py KVMSIM REPO_ROOT WORK_DIR [--kvm-only | --no-kvm]
The commands that use /dev/kvm (--backend kvm, diff, fuzz against the kernel) are heavy: one
scenario (memslot-validation/max-nr-pages.json, a 2^31-1 page slot) makes an x86 host kernel
allocate 16 GiB of rmap, so CTest runs them apart, as kvm.documented_commands (--kvm-only),
which the machine-wide lock for kvm.* tests covers; cli.documented_commands passes --no-kvm.
"""
import glob
import json
import os
import re
import shlex
import subprocess
import sys

KVMSIM, ROOT, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
MODE = sys.argv[4] if len(sys.argv) > 4 else ""
os.makedirs(WORK, exist_ok=True)
PLACEHOLDER = re.compile(r"\b(FILE|PATH|PATHS|DIR|OUT|NEW-PATCH|CMD|PROFILE)\b|…|\.\.\.|\[|<[a-z]|\bP\b|\bX\b|\bN\b")
START = re.compile(r"^(?:\$ )?(?:build/tools/)?kvmsim(?: |$)")


def commands(path):
    text = open(path).read()
    found = []
    in_block = False
    for n, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block:
            cmd = line.strip()
            if START.match(cmd):
                found.append((n, cmd))
        else:
            # Inline, `kvmsim diff` names a command; with a path after it, it is one to run.
            for span in re.findall(r"`([^`]+)`", line):
                if START.match(span.strip()) and re.search(r"\s\S*(/|\.json)", span):
                    found.append((n, span.strip()))
    return found


def uses_kvm(cmd, args):
    return "--backend kvm" in cmd or args[:1] == ["diff"] or (args[:1] == ["fuzz"] and "--against model" not in cmd)


def kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
        os.close(fd)
        return True
    except OSError:
        return False


KVM = kvm_usable()

# docs/scenarios.md's complete minimal example is the file it names, byte for byte in JSON.
doc = open(os.path.join(ROOT, "docs", "scenarios.md")).read()
m = re.search(r"## A complete minimal example.*?```json\n(.*?)```", doc, re.S)
example = os.path.join(ROOT, "scenarios", "readonly", "minimal-example.json")
if not m or json.loads(m.group(1)) != json.load(open(example)):
    print("FAIL docs/scenarios.md's minimal example differs from scenarios/readonly/minimal-example.json")
    sys.exit(1)
ran, skipped, failures = 0, {}, []
files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))
for path in files:
    rel = os.path.relpath(path, ROOT)
    for n, raw in commands(path):
        cmd = re.sub(r"\s+#\s.*$", "", raw).strip()
        cmd = re.sub(r"^\$ ", "", cmd)
        why = None
        try:
            args = shlex.split(cmd)[1:]
        except ValueError:  # a line continued with a backslash: shown as a walk-through, not run
            args, why = [], "a command continued over several lines"
        if why:
            pass
        elif PLACEHOLDER.search(cmd):
            why = "a synopsis with placeholders"
        elif "--backend qemu-" in cmd or "--kernel-image" in cmd:
            why = "boots a kernel under QEMU (minutes): the qemu.* tests run these backends"
        elif MODE == "--no-kvm" and uses_kvm(cmd, args):
            why = "uses /dev/kvm: kvm.documented_commands runs it"
        elif MODE == "--kvm-only" and not uses_kvm(cmd, args):
            why = "does not use /dev/kvm: cli.documented_commands runs it"
        elif not KVM and uses_kvm(cmd, args):
            why = "needs /dev/kvm, unusable here"
        elif args[:1] == ["fuzz"] and "--count" in args and int(args[args.index("--count") + 1]) >= 1000:
            why = "fuzz of 1000+ sequences takes minutes"
        if why:
            skipped.setdefault(why, []).append(f"{rel}:{n}: {cmd}")
            continue
        shell = any(c in cmd for c in "|><;")
        try:
            if shell:
                p = subprocess.run(re.sub(r"^(build/tools/)?kvmsim", shlex.quote(KVMSIM), cmd), shell=True, cwd=ROOT, capture_output=True, text=True, timeout=600)
            else:
                p = subprocess.run([KVMSIM, *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
            rc, out = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired:
            rc, out = "timeout", ""
        ran += 1
        ok = rc in (0, 1, 4)
        print(f"{'ok  ' if ok else 'FAIL'} exit {rc}: {rel}:{n}: {cmd}")
        if not ok:
            failures.append(f"{rel}:{n}: {cmd}: exit {rc}\n    " + "\n    ".join(out.splitlines()[-6:]))

for why, cmds in skipped.items():
    print(f"not run ({why}): {len(cmds)}")
    for c in cmds:
        print("    " + c)
print(f"{ran} documented commands run, {sum(len(c) for c in skipped.values())} not run, {len(failures)} broken")
for f in failures:
    print("BROKEN " + f)
if ran == 0:
    sys.exit(77)
sys.exit(1 if failures else 0)
