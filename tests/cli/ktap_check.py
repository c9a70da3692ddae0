#!/usr/bin/env python3
"""A small KTAP checker, written from the kernel's Documentation/dev-tools/ktap.rst.

Accepts a KTAP document on stdin (or a file) and exits 0 when it follows the format:
  - a version line, "KTAP version 1" (or "TAP version 13/14"), first at each nesting level;
  - a plan "1..N" before the results of that level;
  - result lines "ok|not ok <number> [<description>][ # <directive> [<diagnostic>]]", numbered
    from 1 without gaps, the description without '#';
  - directives SKIP, TODO, XFAIL, TIMEOUT, ERROR only;
  - diagnostic lines "# ..." anywhere;
  - subtests indented two more spaces, each a complete KTAP document, followed by its parent's
    result line at the parent's indentation;
  - as many results as the plan says.
--self-test checks the checker against documents that must pass and must fail.
"""
import re
import sys

VERSION = re.compile(r"^(KTAP version 1|TAP version 1[34])$")
PLAN = re.compile(r"^1\.\.(\d+)$")
RESULT = re.compile(r"^(ok|not ok) (\d+)(?: ([^#]*?))?(?: # (\S+)(?: (.*))?)?\s*$")
DIRECTIVES = {"SKIP", "TODO", "XFAIL", "TIMEOUT", "ERROR"}


class KtapError(Exception):
    pass


def check(lines):
    """Returns the top level's (plan, results) or raises KtapError naming the line."""
    pos = 0

    def level(indent):
        nonlocal pos
        prefix = " " * indent
        if pos >= len(lines) or not lines[pos].startswith(prefix) or not VERSION.match(lines[pos][indent:]):
            raise KtapError(f"line {pos + 1}: expected a version line at indent {indent}")
        pos += 1
        plan = None
        expected = 1
        subtest_open = False
        while pos < len(lines):
            line = lines[pos]
            if line.strip() == "":
                pos += 1
                continue
            body_indent = len(line) - len(line.lstrip(" "))
            if body_indent < indent:
                break
            if body_indent > indent:
                if body_indent != indent + 2:
                    raise KtapError(f"line {pos + 1}: subtest indented {body_indent}, expected {indent + 2}")
                stripped = line[body_indent:]
                if stripped.startswith("#"):
                    pos += 1
                    continue
                level(indent + 2)
                subtest_open = True
                continue
            body = line[indent:]
            if body.startswith("#"):
                pos += 1
                continue
            m = PLAN.match(body)
            if m:
                if plan is not None:
                    raise KtapError(f"line {pos + 1}: a second plan")
                if expected != 1:
                    raise KtapError(f"line {pos + 1}: the plan comes after results")
                plan = int(m.group(1))
                pos += 1
                continue
            m = RESULT.match(body)
            if m:
                if int(m.group(2)) != expected:
                    raise KtapError(f"line {pos + 1}: test number {m.group(2)}, expected {expected}")
                if m.group(4) is not None and m.group(4).upper() not in DIRECTIVES:
                    raise KtapError(f"line {pos + 1}: unknown directive {m.group(4)!r}")
                if "#" in (m.group(3) or ""):
                    raise KtapError(f"line {pos + 1}: '#' in a description")
                expected += 1
                subtest_open = False
                pos += 1
                continue
            if VERSION.match(body) and indent == 0 and plan is None:
                raise KtapError(f"line {pos + 1}: a second version line")
            raise KtapError(f"line {pos + 1}: not a KTAP line: {line!r}")
        if subtest_open:
            raise KtapError(f"line {pos}: a subtest without its parent's result line")
        if plan is None:
            raise KtapError("no plan")
        if expected - 1 != plan:
            raise KtapError(f"plan says {plan} tests, found {expected - 1}")
        return plan

    plan = level(0)
    if pos != len(lines):
        raise KtapError(f"line {pos + 1}: text after the document")
    return plan


GOOD = [
    "KTAP version 1\n1..0\n",
    "KTAP version 1\n1..2\nok 1 a\nnot ok 2 b # SKIP no kvm\n",
    "KTAP version 1\n# hello\n1..1\n  KTAP version 1\n  # Subtest: x\n  1..2\n  ok 1 s1\n  # diag\n  not ok 2 s2\nnot ok 1 x\n# totals\n",
]
BAD = [
    "",                                            # nothing
    "1..1\nok 1 a\n",                              # no version line
    "KTAP version 1\n1..2\nok 1 a\n",              # fewer results than planned
    "KTAP version 1\n1..2\nok 1 a\nok 3 b\n",      # a gap in the numbers
    "KTAP version 1\n1..1\nok 1 a # MAYBE x\n",    # unknown directive
    "KTAP version 1\n1..1\nPASS a\n",              # not a KTAP line
    "KTAP version 1\n1..1\n  KTAP version 1\n  1..1\n  ok 1 s\n",  # subtest without parent result
    "KTAP version 1\n1..1\n   KTAP version 1\n   1..0\nok 1 a\n",  # three-space indent
]


def main():
    if sys.argv[1:] == ["--self-test"]:
        for doc in GOOD:
            check(doc.splitlines())
        for doc in BAD:
            try:
                check(doc.splitlines())
            except KtapError:
                continue
            print("checker accepted a bad document:\n" + doc)
            return 1
        print(f"ktap_check: {len(GOOD)} good and {len(BAD)} bad documents judged right")
        return 0
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    try:
        plan = check(text.splitlines())
    except KtapError as e:
        print(f"not KTAP: {e}")
        return 1
    print(f"KTAP ok: {plan} top-level tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
