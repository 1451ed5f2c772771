"""Renders the pages of `filterscope visualize` and `filterscope hierarchy` in headless Chromium (see
page_browser.py for what every page must pass), on the quick study's Fashion-MNIST run. Keeps the
screenshots (WORKDIR/*.png).

  check_explain_pages.py --filterscope BIN --run RUN_DIR --workdir DIR
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from page_browser import Browser  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--filterscope", required=True)
parser.add_argument("--run", required=True, help="a run directory trained by filterscope train")
parser.add_argument("--workdir", required=True)
args = parser.parse_args()
browser = Browser(args.workdir)
charts = {}
for name, command, expect, needed in (
        ("visualize", ["visualize", args.run, "--steps", "64", "--fool", "Sneaker:Sandal", "--fool-images", "4",
                       "--gradcam-images", "8"], 8,
         ("Activation maximisation", "Pixel fooling", "Grad-CAM", "Top images", "Out-of-sample")),
        ("hierarchy", ["hierarchy", args.run, "--noise-class", "100", "--tree-images", "16"], 3,
         ("Category hierarchy", "Minimum spanning tree", "Filter prediction tree"))):
    out = os.path.join(args.workdir, name)
    r = Browser.run([args.filterscope, *command, "--quiet", "--out", out])
    if r.returncode != 0:
        sys.exit(f"filterscope {name} failed: {r.stderr}")
    page = os.path.join(out, name + ".html")
    browser.offline(page, name)
    html, charts[name] = browser.browse(page, name, expect_charts=expect)
    for text in needed:
        if text not in html:
            browser.problems.append(f"{name}: the page does not show {text!r}")
    # An objective names its class ("logit: Coat"), not its number ("logit:4").
    if re.search(r"(logit|prob):\d", html):
        browser.problems.append(f"{name}: an objective shows a class number where its name belongs")
    if html.count("<canvas") < 4:
        browser.problems.append(f"{name}: the page drew {html.count('<canvas')} pictures")

browser.finish(f"visualize page: {charts['visualize']} charts; hierarchy page: {charts['hierarchy']} charts; both render "
               f"in Chromium without errors; screenshots in {args.workdir}")
