"""Renders `filterscope report` pages in headless Chromium (Debian's chromium package) and fails when
the page has a script or console error, a chart that drew nothing, or a reference to the network.
Keeps the screenshots (WORKDIR/*.png) as test artefacts.

  check_report_browser.py --filterscope BIN --run RUN_DIR --workdir DIR
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from page_browser import Browser  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--filterscope", required=True)
parser.add_argument("--run", required=True, help="a run directory with every experiment done")
parser.add_argument("--workdir", required=True)
parser.add_argument("--study", help="a folder of `filterscope study` (study.html)")
args = parser.parse_args()

browser = Browser(args.workdir)
run = Browser.run


# The full report of a run with every experiment.
full = os.path.join(args.workdir, "report.html")
r = run([args.filterscope, "report", args.run, "--out", full, "--quiet"])
if r.returncode != 0:
    sys.exit(f"filterscope report failed: {r.stderr}")
size = browser.offline(full, "full")
full_html, charts = browser.browse(full, "full", expect_charts=4)
# The label-noise detectors (clean.json): ROC curves, the table, thumbnails of the flagged samples;
# the masking section's paired tests.
import json  # noqa: E402
with open(os.path.join(args.run, "mask.json")) as f:
    masked = json.load(f)["anomaly_filters"] > 0
for needed in ("Label-noise detectors", "ROC curves, well-trained", "Flagged first by aum", "gmm_filters",
               "When did the run start to overfit", "Dataset cartography", "Confident learning (") + (
        ("Paired tests (McNemar",) if masked else ()):
    if needed not in full_html:
        browser.problems.append(f"full: the page does not show {needed!r}")

# Items a first reader stumbled on (issue 32), held here. The well-trained and overfit epochs share
# one marker label and one ROC chart when they are the same epoch; anomaly filters come first among
# the scatter plots; the verdict cards say what a number is.
with open(os.path.join(args.run, "track.json")) as f:
    track = json.load(f)
same = track["well_trained"]["epoch"] == track["overfit"]["epoch"]
if same and "well-trained = overfit" not in full_html:
    browser.problems.append("full: one epoch is both well-trained and overfit, but the chart does not say so")
roc_charts = full_html.count("<h3>ROC curves, ")
with open(os.path.join(args.run, "clean.json")) as f:
    evaluated_epochs = {e["epoch"] for e in json.load(f)["evaluations"]}
if roc_charts != len(evaluated_epochs):
    browser.problems.append(f"full: {roc_charts} ROC charts, one per evaluated epoch ({len(evaluated_epochs)}) expected")
first_normal = full_html.find('class="chart scatter"')
first_anomaly = full_html.find('class="chart scatter anomaly"')
if first_anomaly >= 0 and first_normal >= 0 and first_normal < first_anomaly:
    browser.problems.append("full: a normal filter's scatter plot comes before the anomaly filters'")
if "mean small-cluster share:" in full_html:
    browser.problems.append("full: the H1 card calls a correlation 'mean small-cluster share'")

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

# The study page: a strip per hypothesis and per detector, a row and a report link per seed.
if args.study:
    study_page = os.path.join(args.study, "study.html")
    if not os.path.exists(study_page):
        browser.problems.append(f"{study_page}: missing (scripts/study.sh runs `filterscope study`)")
    else:
        browser.offline(study_page, "study")
        with open(os.path.join(args.study, "study.json")) as f:
            study = json.load(f)
        expected = len(study["hypotheses"]) + len({d["role"] for d in study["detectors"]})
        study_html, study_charts = browser.browse(study_page, "study", expect_charts=expected)
        for seed in study["seeds"]:
            if f"seed-{seed}/report.html" not in study_html:
                browser.problems.append(f"study: no link to seed {seed}'s report")
        if re.search(r"\b1 seeds\b", study_html):
            browser.problems.append("study: '1 seeds'")
        for needed in ("Hypotheses across seeds", "Label-noise detectors across seeds", "Per seed"):
            if needed not in study_html:
                browser.problems.append(f"study: the page does not show {needed!r}")

browser.finish(f"report renders in Chromium without errors: {charts} charts, {size / 1024:.0f} KB; screenshots in {args.workdir}")
