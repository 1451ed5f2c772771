#!/usr/bin/env python3
"""Fails when a source file includes a module of a higher layer than its own.

The layers, lowest first (docs/architecture.md draws them). A file may include its own layer and any
lower one. On the feature floors (layer 8 and above) the folders of one layer do not include each other
either: a piece two features share moves down. Two more rules: the library (src/) never includes the
command-line front end (apps/), and apps/ declares no record schemas (it reads and writes results
through the run store's records).

  check_layers.py [--root DIR]     exit 0 when every include keeps to the rule, 1 otherwise
"""
import argparse
import os
import re
import sys

# Folder (or file stem) -> rank. runs/layout is a leaf (std only): every stage may ask it for a path;
# runs/run_log (the SQLite log, plain records) is one too: train writes it, serve reads it.
LAYERS = [
    ("core", 0), ("io", 1), ("runs/layout", 1), ("runs/run_log", 1), ("data", 2), ("models", 3), ("capture", 4),
    ("cluster", 4), ("anomaly", 5), ("train", 6), ("runs", 7), ("experiments", 8),
    ("activations", 8), ("explain", 8), ("signals", 8), ("report", 9), ("pipeline", 9), ("serve", 10),
]
# From this layer up, the folders of one layer are features side by side (experiments, activations,
# explain, signals; report, pipeline): none includes another.
FEATURE_FLOOR = 8
INCLUDE = re.compile(r'^\s*#\s*include\s*"filterscope/([^"]+)"')
SCHEMA = re.compile(r'"format"\s*,\s*"filterscope-|kAnalysisFormat|"filterscope-[a-z]+-\d+"')


def rank_of(relative):
    """Rank of a path relative to src/filterscope ("anomaly/analyze.h"), the most specific match."""
    best = None
    for prefix, rank in LAYERS:
        if relative == prefix or relative.startswith(prefix + "/") or relative.startswith(prefix + "."):
            if best is None or len(prefix) > len(best[0]):
                best = (prefix, rank)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = parser.parse_args()
    src = os.path.join(args.root, "src", "filterscope")
    problems = []
    checked = 0
    for folder, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith((".h", ".cpp")):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, src)
            own = rank_of(relative)
            if own is None:
                problems.append(f"{relative}: folder not in the layer table of scripts/check_layers.py")
                continue
            checked += 1
            with open(path, encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if re.match(r'^\s*#\s*include\s*"(cli|commands|analysis_flags|cli_params)\.h"', line):
                        problems.append(f"src/filterscope/{relative}:{number}: the library includes the CLI")
                    m = INCLUDE.match(line)
                    if not m:
                        continue
                    target = rank_of(m.group(1))
                    if target is None:
                        problems.append(f"src/filterscope/{relative}:{number}: unknown module {m.group(1)}")
                    elif target[1] > own[1]:
                        problems.append(f"src/filterscope/{relative}:{number}: {own[0]} (layer {own[1]}) includes "
                                        f"{m.group(1)} of {target[0]} (layer {target[1]}), a higher layer")
                    elif target[1] == own[1] >= FEATURE_FLOOR and target[0] != own[0]:
                        problems.append(f"src/filterscope/{relative}:{number}: {own[0]} includes {m.group(1)} of "
                                        f"{target[0]}, a feature folder of the same layer ({own[1]}); move what both "
                                        f"need down a layer")
    apps = os.path.join(args.root, "apps")
    app_files = sorted(os.path.relpath(os.path.join(base, f), apps) for base, _, files in os.walk(apps) for f in files)
    for name in app_files:
        path = os.path.join(apps, name)
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if SCHEMA.search(line):
                    problems.append(f"apps/{name}:{number}: a record schema in the front end (move it to src/filterscope/runs)")
    for p in problems:
        print(p)
    print(f"check_layers: {checked} files, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
