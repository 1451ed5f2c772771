"""Renders filterscope pages in headless Chromium (Debian's chromium package): the checks every
page must pass. A page passes when its script finished (body data-status="ok"), it recorded no
error, the console shows none, it has at least the expected number of charts (each of which drew
something: the page's own self-check), a screenshot is not empty, and nothing would be fetched
from the network. Used by check_report_browser.py and check_pattern_pages.py.
"""
import os
import re
import shutil
import subprocess
import sys


class Browser:
    def __init__(self, workdir):
        self.chromium = shutil.which("chromium") or shutil.which("chromium-browser")
        if not self.chromium:
            sys.exit("chromium not found: scripts/setup.sh installs Debian's chromium package")
        self.workdir = workdir
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        self.problems = []

    @staticmethod
    def run(cmd, **kw):
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)

    def browse(self, page, name, expect_charts):
        url = "file://" + os.path.abspath(page)
        base = [self.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                "--enable-logging=stderr", "--v=0"]
        dom = self.run(base + ["--user-data-dir=" + os.path.join(self.workdir, name + "-profile-dom"), "--dump-dom", url])
        html = dom.stdout
        status = re.search(r'<body[^>]*data-status="([a-z]+)"', html)
        charts = re.search(r'data-charts="(\d+)"', html)
        errors = re.search(r'<pre id="report-errors">(.*?)</pre>', html, re.S)
        if not status or status.group(1) != "ok":
            self.problems.append(f"{name}: page status {status.group(1) if status else 'missing (the script did not finish)'}")
        if errors and errors.group(1).strip():
            self.problems.append(f"{name}: errors on the page: {errors.group(1).strip()}")
        console = [l for l in dom.stderr.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "rror" in l)]
        if console:
            self.problems.append(f"{name}: console errors: {console}")
        n = int(charts.group(1)) if charts else 0
        if n < expect_charts:
            self.problems.append(f"{name}: {n} charts, expected at least {expect_charts}")
        shot = os.path.join(self.workdir, name + ".png")
        self.run(base + ["--user-data-dir=" + os.path.join(self.workdir, name + "-profile-shot"),
                         "--window-size=1280,5000", "--screenshot=" + shot, url])
        if not os.path.exists(shot) or os.path.getsize(shot) < 20000:
            self.problems.append(f"{name}: no screenshot (or an almost empty one)")
        # What the page shows: the DOM after its scripts ran, without the scripts themselves. A text
        # that is also a literal in the page's own script would otherwise be "found" whether or not
        # the page ever rendered it.
        rendered = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S | re.I)
        return rendered, n

    def offline(self, page, name):
        text = open(page, encoding="utf-8").read()
        # The SVG namespace is an identifier, not a request; anything else with a URL scheme would be fetched.
        for pattern in (r'(src|href)\s*=\s*["\']?\s*(https?:|//)', r'url\(\s*["\']?(https?:|//)', r"@import", r"fetch\(",
                        r"XMLHttpRequest", r"<link[^>]+stylesheet"):
            if re.search(pattern, text):
                self.problems.append(f"{name}: the page would reach the network ({pattern})")
        return len(text)

    def finish(self, success):
        if self.problems:
            print("\n".join(self.problems))
            sys.exit(1)
        print(success)
