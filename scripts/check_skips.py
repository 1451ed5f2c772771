#!/usr/bin/env python3
"""Reads CTest's JUnit report and fails when a test was skipped that this machine could run. The
only skip allowed: a CUDA test ("Cuda." in its name) on a machine where CUDA is not available
(GoogleTest's "no CUDA device here"). Every skip is listed with its reason.

  check_skips.py ctest-results.xml
"""
import re
import sys
import xml.etree.ElementTree as ET


def main():
    root = ET.parse(sys.argv[1]).getroot()
    allowed, refused = [], []
    for case in root.iter("testcase"):
        skipped = case.find("skipped")
        status = case.get("status", "")
        if skipped is None and status not in ("notrun", "disabled", "skipped"):
            continue
        name = case.get("name", "?")
        output = " ".join(filter(None, [(skipped.get("message") if skipped is not None else "") or "",
                                        (case.findtext("system-out") or "")]))
        reason = re.search(r"Skipped\s*\n?(.*)", output)
        why = reason.group(1).strip().splitlines()[0] if reason and reason.group(1).strip() else output.strip()[:200]
        if "Cuda" in name and "no CUDA device" in output:
            allowed.append((name, why or "no CUDA device here"))
        else:
            refused.append((name, why or "(no reason given)"))
    for name, why in allowed:
        print(f"skipped (this machine cannot run it): {name}: {why}")
    for name, why in refused:
        print(f"SKIPPED, which fails the run: {name}: {why}")
    if refused:
        print(f"check_skips: {len(refused)} test(s) skipped that this machine could run")
        return 1
    print(f"check_skips: {len(allowed)} skip(s), each one a test this machine cannot run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
