#!/usr/bin/env python3
"""`filterscope grid` on a tiny grid (simple-cnn on synthetic data, noise 0 and 40 %, two seeds): the
summary equals what pandas, NumPy and SciPy recompute from the runs' own overfit.json, clean.json and
retrain.json (mean accuracy lost and |epochs from the oracle| per signal, the winner and its two-sided
sign tests, the detectors' mean AUROC per noise level, the retrain-without gains); and the same grid
dealt over two MPI ranks writes the same records as one process (timing fields aside).

  check_grid.py --filterscope BIN --workdir DIR
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
from scipy.stats import binomtest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
from compare_runs import strip_timing  # noqa: E402

GRID = ["--networks", "simple-cnn", "--datasets", "synthetic", "--noise", "0,0.4", "--seeds", "2", "--main-seeds", "2",
        "--epochs", "4", "--train-size", "200", "--val-size", "100", "--probe-size", "40", "--folds", "2",
        "--retrain", "aum", "--threads", "1", "--quiet"]
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)
        print("FAIL:", what)


def close(a, b):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def records(out):
    """Every run's JSON records and the summary, timing fields stripped."""
    got = {}
    for base, _, files in os.walk(out):
        for name in files:
            if name in ("overfit.json", "clean.json", "retrain.json", "overfit-study.json"):
                with open(os.path.join(base, name)) as f:
                    got[os.path.relpath(os.path.join(base, name), out)] = strip_timing(json.load(f))
            if name in ("overfit.csv", "clean.csv", "overfit-study.csv", "overfit-study.md"):
                with open(os.path.join(base, name)) as f:
                    got[os.path.relpath(os.path.join(base, name), out)] = f.read()
    return got


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--filterscope", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    out = os.path.join(args.workdir, "grid")
    subprocess.run([args.filterscope, "grid", out, *GRID], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "overfit-study.json")) as f:
        study = json.load(f)
    check(study["runs"] == 4, f"{study['runs']} runs")

    # Recompute the summary from the runs' records.
    rows = []
    detectors = []
    gains = []
    for cell in study["cells"]:
        for run in cell["runs"]:
            with open(os.path.join(run["dir"], "overfit.json")) as f:
                o = json.load(f)
            for s in o["signals"]:
                rows.append({"cell": cell["cell"], "seed": run["seed"], "signal": s["name"], "lost": s["val_acc_lost"],
                             "abs": abs(s["epochs_from_oracle"]) if s["epochs_from_oracle"] is not None else None,
                             "fired": s["fired"]})
            clean_file = os.path.join(run["dir"], "clean.json")
            with open(clean_file) as f:
                c = json.load(f)
            check(c["listed_epoch"] == o["oracle"]["epoch"], f"{run['dir']}: clean scored epoch {c['listed_epoch']}, the oracle is {o['oracle']['epoch']}")
            if c["evaluations"]:
                for d in c["evaluations"][0]["detectors"]:
                    detectors.append({"noise": cell["cell"].split()[-1].rstrip("%"), "detector": d["name"], "auroc": d["auroc"]})
            retrain = os.path.join(run["dir"], "retrain-aum", "retrain.json")
            if os.path.exists(retrain):
                with open(retrain) as f:
                    r = json.load(f)
                last = [e for e in r["epochs"] if e["role"] == "last"][0]
                gains.append(last["flagged_val_acc"] - last["random_val_acc"])
    frame = pd.DataFrame(rows)
    for signal, part in frame.groupby("signal"):
        ours = study["signals"][signal]
        check(close(ours["mean_val_acc_lost"], part["lost"].mean()), f"{signal}: mean accuracy lost {ours['mean_val_acc_lost']} vs {part['lost'].mean()}")
        check(close(ours["mean_abs_epochs_from_oracle"], part["abs"].mean()), f"{signal}: mean |epochs from oracle|")
        check(ours["fired"] == int(part["fired"].sum()), f"{signal}: fired count")
        sd = part["lost"].std(ddof=1)
        check(close(ours["sd_val_acc_lost"], sd), f"{signal}: sd of accuracy lost {ours['sd_val_acc_lost']} vs {sd}")
    means = frame.groupby("signal")["lost"].mean()
    check(study["winner_by_accuracy_lost"] == means.idxmin() or close(means.min(), means[study["winner_by_accuracy_lost"]]),
          f"winner {study['winner_by_accuracy_lost']} vs {means.idxmin()}")
    wide = frame.pivot_table(index=["cell", "seed"], columns="signal", values="lost")
    for b in study["winner_against_others"]:
        w, other = wide[study["winner_by_accuracy_lost"]], wide[b["other"]]
        better, worse = int((w < other).sum()), int((w > other).sum())
        check((b["winner_loses_less"], b["other_loses_less"]) == (better, worse), f"{b['other']}: counts {b} vs {better}/{worse}")
        if better + worse:
            p = binomtest(better, better + worse, 0.5).pvalue
            check(close(b["sign_test_p"], min(1.0, p)), f"{b['other']}: sign test p {b['sign_test_p']} vs SciPy {p}")
    det = pd.DataFrame(detectors)
    for noise, rows_ in study["detectors"].items():
        for d in rows_:
            mean = det[(det.noise == noise) & (det.detector == d["detector"])]["auroc"].mean()
            check(close(d["auroc_mean"], mean), f"noise {noise} {d['detector']}: AUROC {d['auroc_mean']} vs {mean}")
    check(len(study["detectors"].get("40", [])) >= 9, f"detectors at 40 %: {study['detectors']}")
    check(len(gains) == 2 and close(study["retrain"]["aum"]["mean_gain"], float(np.mean(gains))),
          f"retrain gains {gains} vs {study['retrain'].get('aum')}")

    # The same grid over two MPI ranks: the same records.
    one = records(out)
    shutil.move(out, out + "-one-process")
    subprocess.run(["mpirun", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none", "-np", "2",
                    args.filterscope, "grid", out, *GRID], check=True, stdout=subprocess.DEVNULL)
    two = records(out)
    check(sorted(one) == sorted(two), f"files differ: {sorted(set(one) ^ set(two))}")
    for name in sorted(set(one) & set(two)):
        check(one[name] == two[name], f"{name} differs between one process and two ranks")
    if problems:
        sys.exit(f"{len(problems)} problem(s)")
    print(f"grid of {study['runs']} runs: the summary equals pandas/SciPy's recomputation; two ranks wrote the same "
          f"{len(one)} records as one process")


if __name__ == "__main__":
    main()
