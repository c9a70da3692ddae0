#!/usr/bin/env python3
"""docs/scenario.schema.json against the scenarios and against the parser's own rules.

  - the schema is a valid JSON Schema (draft 2020-12);
  - every file under scenarios/ is valid under it;
  - every file under tests/data/invalid/ is rejected by the schema and by `kvmsim validate` (exit 2);
  - the schema's ops are exactly the parser's ops (as `kvmsim validate` lists them).
Usage: check_schema.py KVMSIM REPO_ROOT. Exits 77 (CTest: skipped) without python3-jsonschema.
"""
import glob
import json
import os
import re
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("skipped: python3-jsonschema is not installed (tools/setup-deps installs it)")
    sys.exit(77)

KVMSIM, ROOT = sys.argv[1], sys.argv[2]
schema = json.load(open(os.path.join(ROOT, "docs", "scenario.schema.json")))
jsonschema.Draft202012Validator.check_schema(schema)
v = jsonschema.Draft202012Validator(schema)
failures = []

scenarios = sorted(glob.glob(os.path.join(ROOT, "scenarios", "**", "*.json"), recursive=True))
for f in scenarios:
    errs = list(v.iter_errors(json.load(open(f))))
    if errs:
        failures.append(f"{f}: schema rejects a shipped scenario at /{'/'.join(map(str, errs[0].absolute_path))}: {errs[0].message[:200]}")
print(f"{len(scenarios)} scenarios checked against the schema")

invalid = sorted(glob.glob(os.path.join(ROOT, "tests", "data", "invalid", "*.json")))
for f in invalid:
    if v.is_valid(json.load(open(f))):
        failures.append(f"{f}: the schema accepts it")
    rc = subprocess.run([KVMSIM, "validate", f], capture_output=True).returncode
    if rc != 2:
        failures.append(f"{f}: kvmsim validate exited {rc}, expected 2")
print(f"{len(invalid)} invalid files checked against both")

for f in ("right_expectation.json", "wrong_expectation.json"):
    path = os.path.join(ROOT, "tests", "data", f)
    if not v.is_valid(json.load(open(path))):
        failures.append(f"{path}: a valid scenario the schema rejects")

probe = {"name": "n", "description": "d", "steps": [{"op": "no-such-op"}]}
out = subprocess.run([KVMSIM, "validate", "-"], input=json.dumps(probe), capture_output=True, text=True).stdout
m = re.search(r"expected one of: ([^)]*)\)", out)
parser_ops = set(m.group(1).split(", ")) if m else set()
schema_ops = set(schema["$defs"]["step"]["properties"]["op"]["enum"])
if parser_ops != schema_ops:
    failures.append(f"ops differ: only the parser has {sorted(parser_ops - schema_ops)}, only the schema has {sorted(schema_ops - parser_ops)}")
print(f"{len(schema_ops)} ops in the schema, {len(parser_ops)} in the parser")

for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
