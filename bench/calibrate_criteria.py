#!/usr/bin/env python3
"""Calibrates the anomaly criteria (docs/anomaly.md) on analyses of real training runs.

Each argument is an output folder of `filterscope analyze RUN --split train --save-projections`
(the probe set drawn from the training samples, so that label-noise runs know which probe samples
had their label replaced). For every point of a grid over lambda (as a share of N), alpha, beta
and theta, the criteria are re-applied to the stored clustering (cluster labels, CH, mean
activation) exactly as filterscope applies them, and the script prints per analysis: anomaly
filters, outlier samples, and on label-noise runs the precision of the outliers for replaced
labels, their recall, and the enrichment (precision over the base rate of replaced labels).
"""
import argparse
import csv
import itertools
import json
import os

import numpy as np


def load(folder):
    with open(os.path.join(folder, "analysis.json")) as f:
        a = json.load(f)
    run_dir = a["model"].get("run_dir")
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    replaced = set(run["label_noise"]["dataset_indices"])
    probe = np.array(a["probe_set"]["dataset_indices"])
    noisy = np.array([i in replaced for i in probe])
    layers = []
    for layer in a["layers"]:
        stem = layer["name"].replace("/", "_")
        labels = np.load(os.path.join(folder, "projections", stem + ".labels.npy"))
        ks = np.array([f["k"] or 0 for f in layer["filters"]])
        ch = np.array([np.nan if f["ch"] is None else f["ch"] for f in layer["filters"]])
        act = np.array([f["mean_activation"] or 0.0 for f in layer["filters"]])
        layers.append((layer["name"], labels, ks, ch, act))
    name = f"{os.path.basename(run_dir.rstrip('/'))} epoch {a['model']['epoch']}"
    return name, noisy, layers


def apply(layers, n, lam_share, alpha, beta, theta):
    lam = max(1, int(round(lam_share * n)))
    anomalies = 0
    outliers = np.zeros(n, dtype=bool)
    for _, labels, ks, ch, act in layers:
        c = len(ks)
        small_member = np.zeros((c, n), dtype=bool)
        small = np.zeros(c, dtype=int)
        for i in range(c):
            if ks[i] == 0:
                continue
            sizes = np.bincount(labels[i], minlength=ks[i])
            is_small = (sizes >= 1) & (sizes <= lam)
            small[i] = is_small.sum()
            small_member[i] = is_small[labels[i]]
        unbalanced = (ks > 0) & (small > alpha * ks)
        defined = np.isfinite(ch)
        mean_ch = ch[defined].mean() if defined.any() else np.nan
        high = defined & (np.nan_to_num(ch / mean_ch, nan=-1) > beta)
        mean_act = act.mean()
        active = (act > 0) & (act / mean_act >= theta) if mean_act > 0 else np.zeros(c, dtype=bool)
        anomaly = unbalanced & high & active
        anomalies += int(anomaly.sum())
        outliers |= small_member[anomaly].any(axis=0)
    return anomalies, outliers


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("folders", nargs="+")
    p.add_argument("--csv", help="write every grid point's figures here")
    args = p.parse_args()
    data = [load(f) for f in args.folders]
    grid = list(itertools.product([0.005, 0.01, 0.02, 0.03, 0.05], [0.0, 0.1, 0.2], [1.0, 1.2, 1.5], [0.5]))
    rows = []
    for lam, alpha, beta, theta in grid:
        for name, noisy, layers in data:
            n = len(noisy)
            count, outliers = apply(layers, n, lam, alpha, beta, theta)
            hits = int((outliers & noisy).sum())
            base = noisy.mean()
            precision = hits / outliers.sum() if outliers.any() else float("nan")
            recall = hits / noisy.sum() if noisy.any() else float("nan")
            enrichment = precision / base if outliers.any() and base > 0 else float("nan")
            rows.append({"small_cluster": lam, "alpha": alpha, "beta": beta, "theta": theta, "analysis": name,
                         "anomaly_filters": count, "outliers": int(outliers.sum()), "replaced_in_outliers": hits,
                         "precision": precision, "recall": recall, "enrichment": enrichment})
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    print(f"{'lambda/N':>8s} {'alpha':>5s} {'beta':>4s} {'theta':>5s}  analysis: anomaly filters / outliers / enrichment")
    for lam, alpha, beta, theta in grid:
        cells = [r for r in rows if (r["small_cluster"], r["alpha"], r["beta"], r["theta"]) == (lam, alpha, beta, theta)]
        text = "  ".join(f"{r['anomaly_filters']:4d}/{r['outliers']:4d}/" +
                         ("  -  " if np.isnan(r["enrichment"]) else f"{r['enrichment']:4.1f}x") for r in cells)
        print(f"{lam:8.3f} {alpha:5.1f} {beta:4.1f} {theta:5.1f}  {text}")
    print("columns:", " | ".join(name for name, _, _ in data))


if __name__ == "__main__":
    main()
