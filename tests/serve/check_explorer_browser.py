#!/usr/bin/env python3
"""The explorer of `filterscope serve` in a real browser (Debian's chromium through chromium-driver
and python3-selenium): two runs side by side (the quick study's noisy run and a clean one trained
here), the page must draw without errors, and three interactions are driven with real mouse
events: a drill-down (click on a layer), a brush on the image x epoch cube (drag), a zoom (drag on
a strip), and a click on an image. Screenshots stay in --workdir. Also: the server is loopback
only, the page loads nothing from elsewhere, SIGINT stops the server, and the runs are unchanged.

  check_explorer_browser.py --filterscope BIN --run RUN --workdir DIR [--second RUN]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "report"))
from label_layout import label_problems  # noqa: E402


def snapshot(folder):
    out = {}
    for base, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(base, name)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def start_server(binary, runs, problems):
    proc = subprocess.Popen([binary, "serve", *runs, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    m = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
    if not m:
        proc.kill()
        sys.exit(f"serve did not print its URL: {line!r} {proc.stderr.read()}")
    return proc, m.group(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filterscope", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--second", help="the second run (default: a clean one trained here), e.g. one the Python monitor wrote")
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    problems = []

    clean = args.second
    if not clean:
        clean = os.path.join(args.workdir, "clean")
        subprocess.run([args.filterscope, "train", "--dataset", "fashion-mnist", "--train-size", "300", "--val-size", "300",
                        "--epochs", "4", "--quiet", "--out", clean], check=True, timeout=600)
    runs = [args.run, clean]
    before = {r: snapshot(r) for r in runs}
    proc, url = start_server(args.filterscope, runs, problems)
    print("serving", url)
    api = json.load(urllib.request.urlopen(url + "api/runs", timeout=10))
    if [r["id"] for r in api["runs"]] != [os.path.basename(os.path.normpath(r)) for r in runs]:
        problems.append(f"/api/runs lists {api}")

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1500,2400"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    try:
        started = time.time()
        driver.get(url)
        WebDriverWait(driver, 90).until(lambda d: d.execute_script("return document.body.dataset.status || ''"))
        drawn = time.time() - started
        body = driver.find_element(By.TAG_NAME, "body")
        status = body.get_attribute("data-status")
        errors = driver.find_element(By.ID, "report-errors").get_attribute("textContent").strip()
        charts = int(body.get_attribute("data-charts") or 0)
        paint = driver.execute_script(
            "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null")
        print(f"page: status {status}, {charts} charts, first contentful paint {paint} ms, drawn in {drawn:.2f} s")
        if status != "ok":
            problems.append(f"page status {status}: {errors}")
        cols = driver.find_elements(By.CSS_SELECTOR, ".runcol")
        if len(cols) != 2:
            problems.append(f"{len(cols)} run columns, expected the two runs side by side")
        layers = driver.find_elements(By.CSS_SELECTOR, ".runcol .strip[data-layer]")
        if len(layers) < 6:
            problems.append(f"{len(layers)} layer strips for two runs")
        if charts < 2 * 6:
            problems.append(f"{charts} charts")
        foreign = driver.execute_script(
            "return performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith(location.origin))")
        if foreign:
            problems.append(f"the page fetched from elsewhere: {foreign}")
        # Issue 32's items: anomaly counts per probe point (not a convolution's, ReLU's and pool's summed),
        # the anomaly bars on their own axis with a legend, a colour legend for the cube.
        with open(os.path.join(args.run, "track.json")) as f:
            track = json.load(f)
        last = max(e["epoch"] for e in track["epochs"])
        flagged = {}
        for e in track["epochs"]:
            if e["epoch"] == last:
                for probe, n in e.get("per_layer", {}).items():
                    if n:
                        flagged[probe] = n
        badges = [b.text for b in driver.find_elements(By.CSS_SELECTOR, ".runcol:first-child .strip .badge") if "anomaly" in b.text]
        shown = {}
        for text in badges:
            for part in text.replace(" anomaly", "").split(" · "):
                probe, _, n = part.rpartition(": ")
                shown[probe] = int(n) if n.isdigit() else n
        if shown != flagged:
            problems.append(f"layer badges show {shown}, track's last epoch has {flagged}")
        svg_text = driver.execute_script("return [...document.querySelectorAll('.runcol:first-child svg text')].map(t => t.textContent)")
        for needed in ("anomaly filters", "train accuracy", "validation accuracy", "anomaly filters (right axis)"):
            if needed not in svg_text:
                problems.append(f"the accuracy chart lacks the label {needed!r}")
        if not driver.find_elements(By.CSS_SELECTOR, ".cube-legend .ramp"):
            problems.append("the image x epoch cube has no colour legend")
        problems.extend(f"explorer: {p}" for p in label_problems(driver))
        driver.save_screenshot(os.path.join(args.workdir, "explorer.png"))
        # The second run (a monitored one in CI): its layer strips drew, and its training signals
        # (filterscope overfit ran on it) drew a curve per signal.
        second = driver.find_elements(By.CSS_SELECTOR, ".runcol")[-1]
        if not second.find_elements(By.CSS_SELECTOR, ".strip[data-layer]"):
            problems.append("the second run drew no layer strips")
        signal_charts = [c for c in second.find_elements(By.CSS_SELECTOR, ".chart")
                         if "training signals" in (c.get_attribute("textContent") or "")]
        if args.second and (not signal_charts or int(signal_charts[0].get_attribute("data-marks") or 0) == 0):
            problems.append("the second run's training signals drew nothing")

        def wait_action(prefix):
            try:
                WebDriverWait(driver, 30).until(
                    lambda d: (d.execute_script("return document.body.dataset.lastAction || ''")).startswith(prefix))
                return True
            except Exception:
                problems.append(f"the page never finished '{prefix}' (last action "
                                f"{driver.execute_script('return document.body.dataset.lastAction')})")
                return False

        first = driver.find_element(By.CSS_SELECTOR, ".runcol")
        # 1. Drill down: a real click on the first layer's caption.
        cap = first.find_element(By.CSS_SELECTOR, ".strip[data-layer='0'] .cap")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cap)
        cap.click()
        if wait_action("drill:0"):
            groups = first.find_elements(By.CSS_SELECTOR, ".nest .strip[data-group]")
            marks = [int(g.find_element(By.CSS_SELECTOR, ".chart").get_attribute("data-marks")) for g in groups]
            if not groups or min(marks) == 0:
                problems.append(f"drill-down drew {len(groups)} group strips with marks {marks}")
            hist = first.find_elements(By.CSS_SELECTOR, ".nest .chart.hist")
            if not hist or int(hist[0].get_attribute("data-marks")) == 0:
                problems.append("drill-down drew no weight histogram")
            # ... and into a group's filters.
            groups[0].find_element(By.CSS_SELECTOR, ".cap").click()
            if wait_action("filters:0"):
                units = first.find_elements(By.CSS_SELECTOR, ".strip[data-unit]")
                if not units:
                    problems.append("no filter strips after clicking a group")
        problems.extend(f"explorer-drill: {p}" for p in label_problems(driver))
        driver.save_screenshot(os.path.join(args.workdir, "explorer-drill.png"))

        # 2. Brush: drag across the cube's epochs.
        canvas = first.find_element(By.CSS_SELECTOR, ".cube canvas")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        w = canvas.size["width"]
        ActionChains(driver).move_to_element_with_offset(canvas, -w // 2 + 3, 0).click_and_hold().move_by_offset(w - 8, 0).release().perform()
        if wait_action("brush:"):
            rows = first.find_elements(By.CSS_SELECTOR, ".brushed table tbody tr")
            hot = first.find_elements(By.CSS_SELECTOR, ".strip.hot[data-layer]")
            if not hot:
                problems.append("the brush highlighted no layer")
            if not rows:
                problems.append("the brush listed no filters")
        problems.extend(f"explorer-brush: {p}" for p in label_problems(driver))
        driver.save_screenshot(os.path.join(args.workdir, "explorer-brush.png"))

        # 3. Click an image row of the cube.
        canvas = first.find_element(By.CSS_SELECTOR, ".cube canvas")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", canvas)
        ActionChains(driver).move_to_element_with_offset(canvas, 0, -canvas.size["height"] // 2 + 2).click().perform()
        if wait_action("image:"):
            WebDriverWait(driver, 20).until(lambda d: d.execute_script(
                "const i = document.querySelector('.imgpanel img'); return i && i.complete && i.naturalWidth > 0"))

        # 4. Zoom: drag across the first layer strip's chart.
        svg = first.find_element(By.CSS_SELECTOR, ".strip[data-layer='0'] svg")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", svg)
        sw = svg.size["width"]
        ActionChains(driver).move_to_element_with_offset(svg, -sw // 4, 0).click_and_hold().move_by_offset(sw // 3, 0).release().perform()
        if wait_action("zoom:"):
            note = first.find_element(By.CSS_SELECTOR, ".bar .small.muted").text
            if "iterations" not in note:
                problems.append(f"zoom note: {note!r}")
        problems.extend(f"explorer-zoom: {p}" for p in label_problems(driver))
        driver.save_screenshot(os.path.join(args.workdir, "explorer-zoom.png"))

        errors = driver.find_element(By.ID, "report-errors").get_attribute("textContent").strip()
        if errors:
            problems.append(f"errors on the page after the interactions: {errors}")
        severe = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        if severe:
            problems.append(f"console errors: {severe}")
        # A request the API refuses is JSON with a reason.
        try:
            urllib.request.urlopen(url + "api/runs/none", timeout=10)
            problems.append("an unknown run was answered with 200")
        except urllib.error.HTTPError as e:
            if e.code != 404 or "unknown run" not in json.load(e).get("error", ""):
                problems.append(f"unknown run: {e.code}")
    finally:
        driver.quit()
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=20)
            if proc.returncode != 0 or "stopped" not in out:
                problems.append(f"serve did not stop cleanly on SIGINT: {proc.returncode} {out!r} {err!r}")
        except subprocess.TimeoutExpired:
            proc.kill()
            problems.append("serve did not stop within 20 s of SIGINT")
    for r in runs:
        if snapshot(r) != before[r]:
            problems.append(f"{r} changed while it was served")
    for p in problems:
        print("PROBLEM:", p)
    print(f"check_explorer_browser: {len(problems)} problem(s); screenshots in {args.workdir}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
