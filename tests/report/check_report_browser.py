"""Renders `filterscope report` pages in headless Chromium (Debian's chromium package) and fails when
the page has a script or console error, a chart that drew nothing, or a reference to the network.
Keeps the screenshots (WORKDIR/*.png) as test artefacts.

  check_report_browser.py --filterscope BIN --run RUN_DIR --workdir DIR
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from page_browser import Browser  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--filterscope", required=True)
parser.add_argument("--run", required=True, help="a run directory with every experiment done")
parser.add_argument("--workdir", required=True)
args = parser.parse_args()

browser = Browser(args.workdir)
run = Browser.run


# The full report of a run with every experiment.
full = os.path.join(args.workdir, "report.html")
r = run([args.filterscope, "report", args.run, "--out", full, "--quiet"])
if r.returncode != 0:
    sys.exit(f"filterscope report failed: {r.stderr}")
size = browser.offline(full, "full")
_, charts = browser.browse(full, "full", expect_charts=4)

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
browser.offline(bare_page, "bare")
html, _ = browser.browse(bare_page, "bare", expect_charts=2)
for needed in ("Not in this report yet", "filterscope track", "Not run yet"):
    if needed not in html:
        browser.problems.append(f"bare: the page does not say {needed!r}")

browser.finish(f"report renders in Chromium without errors: {charts} charts, {size / 1024:.0f} KB; screenshots in {args.workdir}")
