#!/usr/bin/env python3
"""Checks that a JUnit report is well-formed XML and that its counts add up.

Reads the report from a file (or stdin): the root is <testsuites>, each <testsuite> holds
<testcase name= classname=> elements, and every tests/failures/errors/skipped attribute equals
what its children say. --self-test checks the checker on reports that must pass and fail.
"""
import sys
import xml.etree.ElementTree as ET


def count(cases):
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for c in cases:
        n["tests"] += 1
        n["failures"] += len(c.findall("failure"))
        n["errors"] += len(c.findall("error"))
        n["skipped"] += len(c.findall("skipped"))
    return n


def check(text):
    root = ET.fromstring(text)  # raises ParseError on anything not well-formed
    if root.tag != "testsuites":
        raise ValueError(f"root element <{root.tag}>, expected <testsuites>")
    total = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for suite in root:
        if suite.tag != "testsuite":
            raise ValueError(f"<{suite.tag}> under <testsuites>")
        if not suite.get("name"):
            raise ValueError("a <testsuite> without a name")
        cases = suite.findall("testcase")
        for c in cases:
            if not c.get("name") or not c.get("classname"):
                raise ValueError(f"a <testcase> without name or classname in {suite.get('name')}")
        n = count(cases)
        for k, v in n.items():
            if int(suite.get(k, "-1")) != v:
                raise ValueError(f"{suite.get('name')}: {k}={suite.get(k)}, its test cases say {v}")
            total[k] += v
    for k, v in total.items():
        if int(root.get(k, "-1")) != v:
            raise ValueError(f"<testsuites> {k}={root.get(k)}, the suites say {v}")
    return total


GOOD = ['<?xml version="1.0"?><testsuites tests="1" failures="0" errors="0" skipped="0">'
        '<testsuite name="a" tests="1" failures="0" errors="0" skipped="0"><testcase classname="a" name="x"/></testsuite></testsuites>']
BAD = ['<testsuites><testsuite name="a"></testsuites>',  # not well-formed
       '<testsuites tests="2" failures="0" errors="0" skipped="0"><testsuite name="a" tests="2" failures="0" errors="0" skipped="0">'
       '<testcase classname="a" name="x"/></testsuite></testsuites>',  # counts do not add up
       '<testsuite name="a" tests="0" failures="0" errors="0" skipped="0"/>']  # wrong root


def main():
    if sys.argv[1:] == ["--self-test"]:
        for doc in GOOD:
            check(doc)
        for doc in BAD:
            try:
                check(doc)
            except (ValueError, ET.ParseError):
                continue
            print("checker accepted a bad report: " + doc)
            return 1
        print(f"junit_check: {len(GOOD)} good and {len(BAD)} bad reports judged right")
        return 0
    text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
    try:
        total = check(text)
    except (ValueError, ET.ParseError) as e:
        print(f"not a well-formed JUnit report: {e}")
        return 1
    print("JUnit ok: " + ", ".join(f"{v} {k}" for k, v in total.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
