#!/usr/bin/env python3
"""Time to first paint and to a drawn page of `filterscope serve`'s explorer in headless Chromium
(WebDriver), median of a few fresh loads. Prints one JSON line.

  explorer_paint.py URL [--loads 3]
"""
import argparse
import json
import shutil
import statistics
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("url")
    ap.add_argument("--loads", type=int, default=3)
    args = ap.parse_args()
    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1500,2400"):
        options.add_argument(flag)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    paints, drawn, statuses = [], [], []
    for _ in range(args.loads):
        driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"), options=options)
        try:
            t0 = time.time()
            driver.get(args.url)
            WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.status || ''"))
            drawn.append(1000 * (time.time() - t0))
            statuses.append(driver.execute_script("return document.body.dataset.status"))
            paints.append(driver.execute_script(
                "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null"))
        finally:
            driver.quit()
    print(json.dumps({"loads": args.loads, "status": statuses, "first_contentful_paint_ms": statistics.median(p for p in paints if p is not None),
                      "drawn_ms": statistics.median(drawn)}))


if __name__ == "__main__":
    main()
