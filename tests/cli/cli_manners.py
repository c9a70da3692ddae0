#!/usr/bin/env python3
"""The CLI's manners, one check per behaviour of issue 13: exit codes 0/1/2/3/4, help, --version,
stray arguments, fuzz's numbers and --out, standard input, skips as a status, every error of a
file. Usage: cli_manners.py KVMSIM REPO_ROOT WORK_DIR"""
import glob
import json
import os
import shutil
import subprocess
import sys

KVMSIM, ROOT, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
DATA = os.path.join(ROOT, "tests", "data")
failures = []
os.makedirs(WORK, exist_ok=True)


def run(*args, stdin=None):
    p = subprocess.run([KVMSIM, *args], input=stdin, capture_output=True, text=True, timeout=300, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def expect(what, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)
        if detail:
            print("     " + detail.replace("\n", "\n     ")[:2000])


rc, out, err = run("--version")
expect("--version prints the version and exits 0", rc == 0 and out.startswith("kvmsim "), out + err)

for cmd in ["run", "explain", "diff", "fuzz", "validate", "profiles"]:
    rc1, help1, _ = run("help", cmd)
    rc2, help2, _ = run(cmd, "--help")
    expect(f"kvmsim help {cmd} equals kvmsim {cmd} --help, exit 0", rc1 == 0 and rc2 == 0 and help1 == help2 and help1.startswith("kvmsim " + cmd), help1)
    expect(f"{cmd} --help has no stray --path option and names the exit codes", "--path" not in help1 and "Exit codes" in help1, help1)
rc, out, _ = run("help")
expect("kvmsim help lists exit codes 0 to 4", rc == 0 and all(f"{n} " in out for n in range(5)) and "nothing was checked" in out, out)

for args in (["profiles", "extra"], ["explain", "a.json", "b.json"], ["fuzz", "extra"], ["run", "--bogus", "x.json"], ["help", "nosuch"]):
    rc, out, err = run(*args)
    expect(f"kvmsim {' '.join(args)} is a usage error (exit 2)", rc == 2 and err, out + err)

for args in (["--count", "-1"], ["--seed", "-5"], ["--count", "x"], ["--steps", "1"]):
    out_dir = os.path.join(WORK, "never-made")
    shutil.rmtree(out_dir, ignore_errors=True)
    rc, out, err = run("fuzz", "--against", "model", "--revert", "readonly-toggle-einval", "--out", out_dir, *args)
    expect(f"fuzz {' '.join(args)} is refused (exit 2) before running", rc == 2 and "sequences" not in out and not os.path.exists(out_dir), out + err)

made = os.path.join(WORK, "fuzz-out", "a", "b")
shutil.rmtree(os.path.join(WORK, "fuzz-out"), ignore_errors=True)
rc, out, err = run("fuzz", "--against", "model", "--revert", "readonly-toggle-einval", "--count", "0", "--out", made)
expect("fuzz --out creates its folder; --count 0 checks nothing (exit 4)", rc == 4 and os.path.isdir(made), out + err)
blocker = os.path.join(WORK, "a-file")
open(blocker, "w").close()
rc, out, err = run("fuzz", "--against", "model", "--revert", "readonly-toggle-einval", "--count", "5", "--out", os.path.join(blocker, "sub"))
expect("fuzz --out under a file fails before running (exit 2)", rc == 2 and "sequences" not in out, out + err)

with open(os.path.join(DATA, "right_expectation.json")) as f:
    text = f.read()
rc, out, err = run("run", "-", stdin=text)
expect("run - reads the scenario from standard input", rc == 0 and "1 passed" in out, out + err)
rc, out, err = run("validate", "-", stdin="{")
expect("validate - on broken JSON from standard input exits 2", rc == 2 and "not valid JSON" in out, out + err)

rc, out, err = run("run", "--backend", "kvm", "--format", "json", "scenarios/arm64/stage2/")
doc = json.loads(out) if out.startswith("{") else {}
expect("run --backend kvm on arm64 scenarios: every file SKIP, nothing checked, exit 4",
       rc == 4 and doc.get("summary", {}).get("skipped") == len(glob.glob(os.path.join(ROOT, "scenarios", "arm64", "stage2", "*.json"))) and doc["summary"]["passed"] == 0, out[:600] + err)

no_expect = json.loads(text)
for st in no_expect["steps"]:
    st.pop("expect", None)
rc, out, err = run("run", "-", stdin=json.dumps(no_expect))
expect("run on a scenario without any expectation checks nothing: exit 4", rc == 4 and "nothing was checked" in out, out + err)

empty = os.path.join(WORK, "empty-folder")
os.makedirs(empty, exist_ok=True)
rc, out, err = run("run", empty)
expect("run on a folder without scenarios exits 4", rc == 4 and "nothing was checked" in out, out + err)

rc, out, err = run("run", "--json", os.path.join(WORK, "no-such-path"))
doc = json.loads(out) if out.startswith("{") else {}
expect("run --json on a missing path is an error (exit 2, status invalid)",
       rc == 2 and doc.get("summary", {}).get("invalid") == 1 and doc["files"][0]["status"] == "invalid", out + err)

rc, out, err = run("run", "--format", "json", os.path.join(DATA, "wrong_expectation.json"), os.path.join(DATA, "right_expectation.json"))
doc = json.loads(out) if out.startswith("{") else {}
s = doc.get("summary", {})
expect("run --format json: per-file status and summary counts", rc == 1 and s.get("passed") == 1 and s.get("failed") == 1 and
       [f["status"] for f in doc["files"]] == ["fail", "pass"], out)
cases = [c for f in doc.get("files", []) for c in f["cases"]]
expect("run --format json: counts are integers, addresses and data hex strings",
       all(isinstance(c.get("step"), int) for c in cases) and isinstance(s.get("cases_checked"), int), out[:800])

for name in ("vcpu_never_created.json",):
    for cmd in ("validate", "run"):
        rc, out, err = run(cmd, os.path.join(DATA, name))
        expect(f"{cmd} {name}: bad input (exit 2), names /steps/2/vcpu", rc == 2 and "/steps/2/vcpu" in out and "INVALID" in out, out + err)

rc, out, err = run("validate", os.path.join(DATA, "many_errors.json"))
expect("validate lists every error of a file, with did-you-mean",
       rc == 2 and all(x in out for x in ['/descripton', 'missing required key "description"', '/steps/0/op', '/steps/1/slto',
                                          'did you mean "description"', 'did you mean "KVM_SET_USER_MEMORY_REGION"', 'did you mean "slot"',
                                          '/steps/1: step "KVM_SET_USER_MEMORY_REGION" needs the field "slot"']), out + err)
rc, out, err = run("validate", "--format", "json", os.path.join(DATA, "many_errors.json"), "scenarios/readonly")
doc = json.loads(out) if out.startswith("{") else {}
expect("validate's summary counts invalid files", rc == 2 and doc.get("summary", {}).get("invalid") == 1 and doc["summary"]["passed"] >= 10, out[:600])

# Every command's KTAP and JUnit are accepted by the checkers (run's are checked on all scenarios elsewhere).
HERE = os.path.dirname(os.path.abspath(__file__))
for args in (["validate", "scenarios/readonly", os.path.join(DATA, "many_errors.json")],
             ["fuzz", "--against", "model", "--revert", "readonly-toggle-einval", "--count", "40", "--out", os.path.join(WORK, "fuzz-formats")]):
    for fmt, checker in (("ktap", "ktap_check.py"), ("junit", "junit_check.py")):
        rc, out, err = run(*args, "--format", fmt)
        c = subprocess.run([sys.executable, os.path.join(HERE, checker)], input=out, capture_output=True, text=True)
        expect(f"{args[0]} --format {fmt} is accepted by {checker} (exit {rc})", c.returncode == 0 and rc in (1, 2), c.stdout + out[:400])

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
