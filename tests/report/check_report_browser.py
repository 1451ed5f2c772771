"""Renders `filterscope report` pages in headless Chromium (Debian's chromium package) and fails when
the page has a script or console error, a chart that drew nothing, or a reference to the network.
Keeps the screenshots (WORKDIR/*.png) as test artefacts.

  check_report_browser.py --filterscope BIN --run RUN_DIR --workdir DIR
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

parser = argparse.ArgumentParser()
parser.add_argument("--filterscope", required=True)
parser.add_argument("--run", required=True, help="a run directory with every experiment done")
parser.add_argument("--workdir", required=True)
args = parser.parse_args()

chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    sys.exit("chromium not found: scripts/setup.sh installs Debian's chromium package")
shutil.rmtree(args.workdir, ignore_errors=True)
os.makedirs(args.workdir)
problems = []


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)


def browse(page, name, expect_charts):
    url = "file://" + os.path.abspath(page)
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--enable-logging=stderr", "--v=0"]
    dom = run(base + ["--user-data-dir=" + os.path.join(args.workdir, name + "-profile-dom"), "--dump-dom", url])
    html = dom.stdout
    status = re.search(r'<body[^>]*data-status="([a-z]+)"', html)
    charts = re.search(r'data-charts="(\d+)"', html)
    errors = re.search(r'<pre id="report-errors">(.*?)</pre>', html, re.S)
    if not status or status.group(1) != "ok":
        problems.append(f"{name}: page status {status.group(1) if status else 'missing (the script did not finish)'}")
    if errors and errors.group(1).strip():
        problems.append(f"{name}: errors on the page: {errors.group(1).strip()}")
    console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "rror" in l)]
    if console:
        problems.append(f"{name}: console errors: {console}")
    n = int(charts.group(1)) if charts else 0
    if n < expect_charts:
        problems.append(f"{name}: {n} charts, expected at least {expect_charts}")
    shot = os.path.join(args.workdir, name + ".png")
    run(base + ["--user-data-dir=" + os.path.join(args.workdir, name + "-profile-shot"), "--window-size=1280,5000",
                "--screenshot=" + shot, url])
    if not os.path.exists(shot) or os.path.getsize(shot) < 20000:
        problems.append(f"{name}: no screenshot (or an almost empty one)")
    return html, n


def offline(page, name):
    text = open(page, encoding="utf-8").read()
    # The SVG namespace is an identifier, not a request; anything else with a URL scheme would be fetched.
    for pattern in (r'(src|href)\s*=\s*["\']?\s*(https?:|//)', r'url\(\s*["\']?(https?:|//)', r"@import", r"fetch\(",
                    r"XMLHttpRequest", r"<link[^>]+stylesheet"):
        if re.search(pattern, text):
            problems.append(f"{name}: the page would reach the network ({pattern})")
    return len(text)


# The full report of a run with every experiment.
full = os.path.join(args.workdir, "report.html")
r = run([args.filterscope, "report", args.run, "--out", full, "--quiet"])
if r.returncode != 0:
    sys.exit(f"filterscope report failed: {r.stderr}")
size = offline(full, "full")
_, charts = browse(full, "full", expect_charts=4)

# A run with training only: the page names what is missing instead of breaking.
bare = os.path.join(args.workdir, "bare-run")
r = run([args.filterscope, "train", "--dataset", "synthetic", "--synthetic-size", "300", "--train-size", "100",
         "--val-size", "50", "--epochs", "1", "--quiet", "--out", bare])
if r.returncode != 0:
    sys.exit(f"training the bare run failed: {r.stderr}")
bare_page = os.path.join(args.workdir, "bare.html")
r = run([args.filterscope, "report", bare, "--out", bare_page, "--quiet"])
if r.returncode != 0:
    sys.exit(f"filterscope report of a bare run failed: {r.stderr}")
offline(bare_page, "bare")
html, _ = browse(bare_page, "bare", expect_charts=2)
for needed in ("Not in this report yet", "filterscope track", "Not run yet"):
    if needed not in html:
        problems.append(f"bare: the page does not say {needed!r}")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"report renders in Chromium without errors: {charts} charts, {size / 1024:.0f} KB; screenshots in {args.workdir}")
