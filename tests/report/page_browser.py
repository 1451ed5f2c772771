"""Renders filterscope pages in headless Chromium (Debian's chromium through chromium-driver and
python3-selenium): the checks every page must pass. A page passes when its script finished (body
data-status="ok"), it recorded no error, the console shows none, it has at least the expected number
of charts (each of which drew something: the page's own self-check), no label overlaps another or is
clipped (measured here, in the rendered DOM, by label_layout.py), a full-page screenshot is not
empty, and nothing would be fetched from the network (no request in the page's resource timing, and
no URL in the page's own code; the pasted chart library is d3 and is left out of the text search).
Used by check_report_browser.py, check_pattern_pages.py and check_explain_pages.py.
"""
import atexit
import os
import re
import shutil
import subprocess
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

from label_layout import label_problems

WIDTH = 1280


class Browser:
    def __init__(self, workdir):
        self.chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not self.chromium:
            sys.exit("chromium not found: scripts/setup.sh installs Debian's chromium package")
        self.workdir = workdir
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        self.problems = []
        options = webdriver.ChromeOptions()
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size={WIDTH},1000"):
            options.add_argument(flag)
        options.binary_location = self.chromium
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        self.driver.set_page_load_timeout(120)
        atexit.register(self.quit)  # also when a check script exits early

    def quit(self):
        if self.driver is not None:
            self.driver.quit()
            self.driver = None

    @staticmethod
    def run(cmd, **kw):
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)

    def browse(self, page, name, expect_charts):
        d = self.driver
        d.set_window_size(WIDTH, 1000)
        d.get("file://" + os.path.abspath(page))
        try:
            WebDriverWait(d, 60).until(lambda drv: drv.execute_script("return document.body.dataset.status || ''") != "")
        except Exception:
            pass
        status = d.execute_script("return document.body.dataset.status || ''")
        charts = int(d.execute_script("return document.body.dataset.charts || '0'"))
        errors = d.execute_script("const e = document.getElementById('report-errors'); return e ? e.textContent : ''")
        if status != "ok":
            self.problems.append(f"{name}: page status {status or 'missing (the script did not finish)'}")
        if errors.strip():
            self.problems.append(f"{name}: errors on the page: {errors.strip()}")
        console = [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]
        if console:
            self.problems.append(f"{name}: console errors: {console}")
        if charts < expect_charts:
            self.problems.append(f"{name}: {charts} charts, expected at least {expect_charts}")
        requests = d.execute_script("return performance.getEntriesByType('resource').map((r) => r.name)")
        if requests:
            self.problems.append(f"{name}: the page fetched {requests[:3]}")
        for p in label_problems(d):
            self.problems.append(f"{name}: {p}")
        # What the page shows: the DOM after its scripts ran, without the scripts themselves. A text
        # that is also a literal in the page's own script would otherwise be "found" whether or not
        # the page ever rendered it.
        html = d.execute_script("return document.documentElement.outerHTML")
        rendered = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S | re.I)
        height = d.execute_script("return Math.ceil(document.documentElement.scrollHeight)")
        d.set_window_size(WIDTH, min(max(height, 600), 16000))
        shot = os.path.join(self.workdir, name + ".png")
        d.save_screenshot(shot)
        if not os.path.exists(shot) or os.path.getsize(shot) < 20000:
            self.problems.append(f"{name}: no screenshot (or an almost empty one)")
        return rendered, charts

    def offline(self, page, name):
        text = open(page, encoding="utf-8").read()
        # The chart library (d3, pasted in whole) has fetch() and URLs in code the page never calls;
        # the resource timing in browse() catches a request it would make. The rest is searched.
        own = re.sub(r'<script id="chart-library">.*?</script>', "", text, flags=re.S)
        if own == text:
            self.problems.append(f"{name}: no chart library block (<script id=\"chart-library\">)")
        # The SVG namespace is an identifier, not a request; anything else with a URL scheme would be fetched.
        for pattern in (r'(src|href)\s*=\s*["\']?\s*(https?:|//)', r'url\(\s*["\']?(https?:|//)', r"@import", r"fetch\(",
                        r"XMLHttpRequest", r"<link[^>]+stylesheet"):
            if re.search(pattern, own):
                self.problems.append(f"{name}: the page would reach the network ({pattern})")
        return len(text)

    def finish(self, success):
        self.quit()
        if self.problems:
            print("\n".join(self.problems))
            sys.exit(1)
        print(success)
