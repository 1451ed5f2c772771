#!/usr/bin/env python3
"""Compares two run directories file by file: the check that the same seed on the same machine gives
the same files (and that a refactoring changed no result).

  compare_runs.py A B [--ignore-timing]

Every file present in either directory is compared byte for byte. With --ignore-timing, files that
differ only in wall-clock fields (JSON keys ending in "seconds", "created", "hardware",
"seconds_per_epoch" and "cost_share" (a training signal's cost); the
"seconds" column of a CSV; report.html, which embeds them) count as equal on their other content,
and checkpoints (zip archives) by the tensors they store (see tensor_blobs for why). Exit status 0 when every file
matches, 1 otherwise; one line per file.
"""
import argparse
import csv
import io
import json
import os
import sys
import zipfile

TIMING_KEYS = ("seconds", "created", "hardware", "seconds_per_epoch", "cost_share")


def strip_timing(value):
    if isinstance(value, dict):
        return {k: strip_timing(v) for k, v in value.items() if not k.endswith(TIMING_KEYS)}
    if isinstance(value, list):
        return [strip_timing(v) for v in value]
    return value


def csv_without_timing(data):
    rows = list(csv.reader(io.StringIO(data.decode())))
    if not rows:
        return rows
    keep = [i for i, name in enumerate(rows[0]) if not name.endswith("seconds")]
    return [[row[i] for i in keep if i < len(row)] for row in rows]


def tensor_blobs(path):
    """The stored tensors of a LibTorch archive, in sorted order: LibTorch writes an optimizer's
    state in the order of a hash map keyed by memory addresses, so the same state can be stored in
    another order from one process to the next."""
    with zipfile.ZipFile(path) as z:
        return sorted(z.read(name) for name in z.namelist() if "/data/" in name)


def same(a, b, name, ignore_timing):
    with open(a, "rb") as f:
        da = f.read()
    with open(b, "rb") as f:
        db = f.read()
    if da == db:
        return "identical"
    if not ignore_timing:
        return None
    if name.endswith(".json"):
        return "equal apart from timing" if strip_timing(json.loads(da)) == strip_timing(json.loads(db)) else None
    if name.endswith(".csv"):
        return "equal apart from timing" if csv_without_timing(da) == csv_without_timing(db) else None
    if name.endswith(".pt"):
        return "same tensors, other archive order" if tensor_blobs(a) == tensor_blobs(b) else None
    if name.endswith(".html"):
        return "skipped (embeds timings)"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--ignore-timing", action="store_true")
    args = parser.parse_args()
    files = set()
    for root in (args.a, args.b):
        for folder, _, names in os.walk(root):
            for n in names:
                files.add(os.path.relpath(os.path.join(folder, n), root))
    bad = 0
    counts = {}
    for name in sorted(files):
        a, b = os.path.join(args.a, name), os.path.join(args.b, name)
        if not (os.path.exists(a) and os.path.exists(b)):
            print(f"{name}: only in {'A' if os.path.exists(a) else 'B'}")
            bad += 1
            continue
        verdict = same(a, b, name, args.ignore_timing)
        if verdict is None:
            print(f"{name}: DIFFERENT")
            bad += 1
        else:
            counts[verdict] = counts.get(verdict, 0) + 1
            print(f"{name}: {verdict}")
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    print(f"compare_runs: {len(files)} files: {summary}; {bad} different")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
