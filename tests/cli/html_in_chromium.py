#!/usr/bin/env python3
"""kvmsim explain --html, rendered in headless Chromium (Debian's chromium package).

For one scenario per seed (000-004): the page is self-contained (no script, no external URL);
Chromium loads it and its DOM holds the pictures the page promises (the guest-physical map
with slot bars, the host map, access paths where the scenario makes accesses, the flash state
machine for the flash seed, the steps table); a screenshot is not blank. The screenshots stay
in WORK_DIR for a person to look at.
Usage: html_in_chromium.py KVMSIM REPO_ROOT WORK_DIR. Exits 77 (CTest: skipped) without Chromium.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib

KVMSIM, ROOT, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
if not BROWSER:
    print("skipped: Chromium is not installed (apt-get install chromium; tools/setup-deps installs it)")
    sys.exit(77)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--hide-scrollbars"]

# seed -> (scenario, elements that must be in the rendered DOM)
PAGES = {
    "000": ("scenarios/vmm/flash-session.json", ["svg.gpamap rect", "svg.hostmap", "svg.flash", "svg.path", "table.steps"]),
    "001": ("scenarios/readonly/seed-001-contract-example.json", ["svg.gpamap rect", "svg.hostmap", "svg.path", "table.steps"]),
    "002": ("scenarios/page-walk/ro-slot-before-after-patch.json", ["svg.gpamap rect", "svg.hostmap", "svg.path", "table.steps"]),
    "003": ("scenarios/arm64/cca/seed-consequence-realm-rom-is-writable.json", ["svg.gpamap rect", "svg.hostmap", "svg.path", "table.steps"]),
    "004": ("scenarios/arm64/lock/seed-patch-usage-checks.json", ["svg.gpamap rect", "svg.hostmap", "table.steps"]),
}


def png_pixels(path):
    """Decodes an 8-bit RGB or RGBA PNG (what Chromium writes) into rows of pixel tuples."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, width, height, ctype = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype = struct.unpack(">IIBB", body[:10])
            if depth != 8 or ctype not in (2, 6):
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {ctype}")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 0xFF
            elif f == 2:
                line[i] = (line[i] + b) & 0xFF
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def ink(png):
    """(width, height, distinct colours, share of pixels not white), sampling every 4th pixel."""
    w, h, bpp, rows = png_pixels(png)
    colours, dark, sampled = set(), 0, 0
    for r in rows[::4]:
        for x in range(0, w * bpp, 4 * bpp):
            px = r[x:x + 3]
            colours.add(px)
            dark += px != b"\xff\xff\xff"
            sampled += 1
    return w, h, len(colours), dark / max(1, sampled)


def blank(colours, share):
    return colours < 8 or share < 0.02


def has_element(dom, selector):
    """'svg.gpamap rect': an <svg class="gpamap"> that holds a <rect>; 'table.steps': a <table class="steps">."""
    parts = selector.split()
    tag, cls = parts[0].split(".")
    for m in re.finditer(rf'<{tag}\b[^>]*class="{cls}"[^>]*>(.*?)</{tag}>', dom, re.S):
        if len(parts) == 1 or f"<{parts[1]}" in m.group(1):
            return True
    return False


os.makedirs(WORK, exist_ok=True)
failures = []
for seed, (scenario, selectors) in PAGES.items():
    html = os.path.join(WORK, f"seed-{seed}.html")
    png = os.path.join(WORK, f"seed-{seed}.png")
    rc = subprocess.run([KVMSIM, "explain", "--html", html, os.path.join(ROOT, scenario)], capture_output=True, text=True).returncode
    if rc != 0:
        failures.append(f"seed {seed}: kvmsim explain --html exited {rc}")
        continue
    page = open(html).read()
    external = [u for u in re.findall(r'(?:src|href)="([^"]*)"|url\(([^)#][^)]*)\)|@import', page) if any(u)]
    if "<script" in page or external:
        failures.append(f"seed {seed}: the page is not self-contained ({'script' if '<script' in page else external[:3]})")
    profile = os.path.join(WORK, f"profile-{seed}")
    shutil.rmtree(profile, ignore_errors=True)
    url = "file://" + os.path.abspath(html)
    base = [BROWSER, *FLAGS, f"--user-data-dir={profile}"]
    dom = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for sel in selectors:
        if not has_element(dom, sel):
            failures.append(f"seed {seed}: no {sel} in the DOM Chromium rendered")
    shutil.rmtree(profile, ignore_errors=True)
    subprocess.run(base + ["--window-size=1100,1500", f"--screenshot={png}", url], capture_output=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    if not os.path.exists(png):
        failures.append(f"seed {seed}: Chromium wrote no screenshot")
        continue
    w, h, colours, share = ink(png)
    print(f"seed {seed}: {scenario}: {w}x{h} screenshot, {colours} colours, {100 * share:.1f}% not white")
    if blank(colours, share):
        failures.append(f"seed {seed}: the screenshot is blank")

# The blank test itself must be able to fail: an empty page is judged blank.
empty = os.path.join(WORK, "empty.html")
open(empty, "w").write("<!DOCTYPE html><html><body></body></html>")
png = os.path.join(WORK, "empty.png")
subprocess.run([BROWSER, *FLAGS, f"--user-data-dir={os.path.join(WORK, 'profile-empty')}", "--window-size=1100,1500", f"--screenshot={png}", "file://" + empty],
               capture_output=True, timeout=120)
shutil.rmtree(os.path.join(WORK, "profile-empty"), ignore_errors=True)
if not os.path.exists(png) or not blank(*ink(png)[2:]):
    failures.append("an empty page's screenshot is not judged blank: the check cannot fail")

for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
