#!/usr/bin/env python3
"""`filterscope overfit` against independent computations on a small Fashion-MNIST run trained with
plain SGD and 20 % label noise (the built-in simple-cnn, rebuilt in PyTorch from its checkpoints):

  * train_loss equals metrics.csv; label_wave equals the count of changed predictions between the
    run's per-sample files (RUN/samples/epoch-NNN.csv);
  * anomaly_count and small_cluster_share equal the sums over each epoch's analysis.json;
  * gsnr, eb_criterion and gradient_disparity equal their formulas over PyTorch autograd's per-sample
    gradients (model in eval mode, one sample at a time) on the subsample overfit.json names
    (relative 1e-6);
  * weight_alpha (and each layer's part) equals the power-law fit of NumPy's eigenvalues of W^T W
    (numpy.linalg.eigvalsh of every kernel slice's Gram matrix, pooled), with the continuous
    maximum-likelihood exponent at the xmin of the smallest Kolmogorov-Smirnov distance;
  * every signal's smoothed curve, the epoch its rule names, whether and when it fired, the oracle
    (lowest validation loss) and the validation accuracy at the predicted epoch follow from the
    rules written out here in NumPy;
  * the EB criterion reports no unmet assumption (plain SGD), and its note appears for Adam.

  check_signals_reference.py --filterscope BIN --workdir DIR
"""
import argparse
import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "activations"))
from check_ood_reference import FASHION, read_idx  # noqa: E402
from export_torchscript import load_checkpoint_network  # noqa: E402

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def close(a, b, rel=1e-6, absolute=1e-12):
    a, b = float(a), float(b)
    if np.isnan(a) or np.isnan(b):
        return np.isnan(a) and np.isnan(b)
    return abs(a - b) <= absolute + rel * max(abs(a), abs(b))


def trailing(curve, window):
    out = []
    for e in range(len(curve)):
        vals = [v for v in curve[max(0, e - window + 1):e + 1] if not np.isnan(v)]
        out.append(np.mean(vals) if vals else np.nan)
    return out


def decide(curve, rule, window, patience, threshold):
    """(fired, fired_at, predicted) by the rule, epochs counted from 1."""
    s = trailing(curve, window)
    n = len(s)
    if rule in ("min-with-patience", "max-with-patience"):
        sign = 1 if rule == "min-with-patience" else -1
        best = 0
        for t in range(1, n + 1):
            v = s[t - 1]
            if not np.isnan(v) and (best == 0 or sign * v < sign * s[best - 1]):
                best = t
            if best and t - best >= patience:
                return True, t, best, s
        return False, 0, best, s
    any_value = False
    for t in range(1, n + 1):
        v = s[t - 1]
        if np.isnan(v):
            continue
        any_value = True
        met = False
        if rule == "first-above":
            met = v > threshold
        elif rule == "first-below":
            met = v < threshold
        elif rule == "plateau" and t - patience >= 1:
            before = s[t - patience - 1]
            met = not np.isnan(before) and before - v < threshold * abs(before)
        if met:
            return True, t, t, s
    return False, 0, (n if any_value else 0), s


def power_law_alpha(evals):
    """The smallest-KS-distance continuous power-law fit (alpha, xmin) of a spectrum."""
    x = np.sort(np.asarray(evals, dtype=np.float64))
    best = (np.inf, np.nan, np.nan)
    for i in range(len(x) - 1):
        tail = x[i:]
        m = len(tail)
        alpha = 1 + m / np.sum(np.log(tail / x[i]))
        d = 1.0
        if alpha > 1:
            d = np.max(np.abs(1 - (tail / x[i]) ** (1 - alpha) - np.arange(m) / m))
        if d < best[0]:
            best = (d, alpha, x[i])
    return best[1], best[2]


def layer_spectrum(w):
    w = w.detach().double().numpy()
    mats = [w] if w.ndim == 2 else [w[:, :, i, j] for i in range(w.shape[2]) for j in range(w.shape[3])]
    evals = []
    for m in mats:
        g = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
        evals.extend(np.linalg.eigvalsh(g))
    return np.sort(np.array(evals))


def read_samples(run, epoch):
    with open(os.path.join(run, "samples", f"epoch-{epoch:03d}.csv")) as f:
        rows = list(csv.DictReader(f))
    return np.array([int(r["prediction"]) for r in rows])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filterscope", required=True)
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    shutil.rmtree(args.workdir, ignore_errors=True)
    os.makedirs(args.workdir)
    run = os.path.join(args.workdir, "run")
    fs = args.filterscope
    epochs = 7
    subprocess.run([fs, "train", "--dataset", "fashion-mnist", "--train-size", "500", "--val-size", "300", "--epochs",
                    str(epochs), "--label-noise", "0.2", "--optimizer", "sgd", "--lr", "0.05", "--momentum", "0",
                    "--seed", "3", "--threads", "1", "--quiet", "--out", run], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([fs, "track", run, "--split", "train", "--probe-size", "150", "--threads", "1", "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([fs, "overfit", run, "--signal-samples", "40", "--disparity-batch", "10", "--window", "2",
                    "--patience", "2", "--threads", "1", "--quiet"], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(run, "overfit.json")) as f:
        o = json.load(f)
    with open(os.path.join(run, "run.json")) as f:
        run_json = json.load(f)
    sig = {s["name"]: s for s in o["signals"]}
    check(set(sig) == {"anomaly_count", "small_cluster_share", "label_wave", "gsnr", "eb_criterion",
                       "gradient_disparity", "weight_alpha", "train_loss"}, f"signals: {sorted(sig)}")
    check(o["epochs"] == list(range(1, epochs + 1)), f"epochs {o['epochs']}")

    with open(os.path.join(run, "metrics.csv")) as f:
        metrics = list(csv.DictReader(f))
    train_loss = [float(m["train_loss"]) for m in metrics]
    val_loss = [float(m["val_loss"]) for m in metrics]
    val_acc = [float(m["val_acc"]) for m in metrics]
    check(all(close(a, b, 1e-8) for a, b in zip(sig["train_loss"]["curve"], train_loss)), "train_loss differs from metrics.csv")

    preds = [read_samples(run, e) for e in range(1, epochs + 1)]
    wave = [np.nan] + [float(np.sum(preds[e] != preds[e - 1])) for e in range(1, epochs)]
    got = [np.nan if v is None else v for v in sig["label_wave"]["curve"]]
    check(np.isnan(got[0]) and got[1:] == wave[1:], f"label_wave {got} vs {wave}")
    check(any(v > 0 for v in wave[1:]), "no prediction ever changed: the label_wave check compares nothing")

    counts, shares = [], []
    for e in range(1, epochs + 1):
        with open(os.path.join(run, "analysis", f"epoch-{e:03d}", "analysis.json")) as f:
            a = json.load(f)
        counts.append(sum(layer["anomaly_count"] for layer in a["layers"]))
        filters = [fl for layer in a["layers"] for fl in layer["filters"]]
        shares.append(np.mean([fl["scores"]["small_share"] if fl["scores"]["small_share"] is not None else 0.0
                               for fl in filters]))
    check(sig["anomaly_count"]["curve"] == counts, f"anomaly_count {sig['anomaly_count']['curve']} vs {counts}")
    check(all(close(a, b, 1e-12) for a, b in zip(sig["small_cluster_share"]["curve"], shares)), "small_cluster_share differs")

    # Per-sample gradients with PyTorch autograd on the recorded subsample.
    train_images = read_idx(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))
    norm = run_json["dataset"]["normalisation"]
    idx = np.array(run_json["dataset"]["train_indices"])
    labels = np.array([0] * len(idx))
    samples1 = os.path.join(run, "samples", "epoch-001.csv")
    with open(samples1) as f:
        rows = list(csv.DictReader(f))
    labels = np.array([int(r["label"]) for r in rows])  # the labels trained on (noise included)
    positions = np.array(o["gradient_subsample"])
    check(len(positions) == 40 and np.all(np.diff(positions) > 0), f"subsample {positions}")
    x = (train_images[idx[positions]].astype(np.float32) / np.float32(255) - np.float32(norm["mean"][0])) / np.float32(norm["std"][0])
    x = torch.from_numpy(x)
    y = torch.from_numpy(labels[positions])
    for e in range(1, epochs + 1):
        net, _, _ = load_checkpoint_network(run, e)
        params = [q for q in net.parameters()]
        grads = []
        for i in range(len(positions)):
            loss = F.cross_entropy(net(x[i:i + 1]), y[i:i + 1])
            g = torch.autograd.grad(loss, params)
            grads.append(torch.cat([t.reshape(-1) for t in g]).double().numpy())
        G = np.stack(grads)
        mean = G.mean(0)
        var = G.var(0, ddof=1)
        ok = var > 0
        gsnr = np.mean(mean[ok] ** 2 / var[ok])
        eb = 1 - len(G) / ok.sum() * np.sum(mean[ok] ** 2 / var[ok])
        pairs = [np.linalg.norm(G[2 * k * 10:(2 * k + 1) * 10].mean(0) - G[(2 * k + 1) * 10:(2 * k + 2) * 10].mean(0))
                 for k in range(2)]
        check(close(sig["gsnr"]["curve"][e - 1], gsnr), f"epoch {e}: gsnr {sig['gsnr']['curve'][e - 1]} vs PyTorch {gsnr}")
        check(close(sig["eb_criterion"]["curve"][e - 1], eb), f"epoch {e}: eb {sig['eb_criterion']['curve'][e - 1]} vs {eb}")
        check(close(sig["gradient_disparity"]["curve"][e - 1], np.mean(pairs)),
              f"epoch {e}: disparity {sig['gradient_disparity']['curve'][e - 1]} vs {np.mean(pairs)}")
        alphas = {}
        for name, w in net.named_parameters():
            if w.dim() not in (2, 4):
                continue
            evals = layer_spectrum(w)
            if len(evals) < 50:
                continue
            alphas[name] = power_law_alpha(evals)[0]
        parts = sig["weight_alpha"]["parts"]
        check(len(alphas) >= 2, f"only {len(alphas)} layers with 50 eigenvalues")
        for name, alpha in alphas.items():
            ours = parts.get(name, [None] * epochs)[e - 1]
            check(ours is not None and close(ours, alpha, 1e-6), f"epoch {e}: alpha of {name} {ours} vs NumPy {alpha}")
        check(close(sig["weight_alpha"]["curve"][e - 1], np.mean(list(alphas.values())), 1e-6), f"epoch {e}: mean alpha")

    # The rules, the oracle and the accuracy at the predicted epoch.
    oracle = int(np.argmin(val_loss)) + 1
    check(o["oracle"]["epoch"] == oracle, f"oracle {o['oracle']['epoch']} vs {oracle}")
    for s in o["signals"]:
        curve = [np.nan if v is None else v for v in s["curve"]]
        fired, fired_at, predicted, smoothed = decide(curve, s["rule"], s["window"], s["patience"],
                                                      s["threshold"] if s["threshold"] is not None else 0.0)
        check((s["fired"], s["fired_at"], s["predicted_epoch"]) == (fired, fired_at, predicted),
              f"{s['name']}: rule {s['rule']} gives {(fired, fired_at, predicted)}, overfit.json "
              f"{(s['fired'], s['fired_at'], s['predicted_epoch'])}")
        ours = [np.nan if v is None else v for v in s["smoothed"]]
        check(all(close(a, b, 1e-9) for a, b in zip(ours, smoothed)), f"{s['name']}: smoothed curve differs")
        if predicted:
            check(close(s["val_acc_at_predicted"], val_acc[predicted - 1], 1e-9), f"{s['name']}: val acc at the predicted epoch")
            check(close(s["val_acc_lost"], val_acc[oracle - 1] - val_acc[predicted - 1], 1e-9), f"{s['name']}: accuracy lost")
    check(sig["eb_criterion"]["assumption"] == "", f"EB assumption on plain SGD: {sig['eb_criterion']['assumption']}")
    check(all(s["rule"] for s in o["signals"]), "a signal without a rule")

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"overfit on {epochs} epochs: train_loss, label_wave (changes {wave[1:]}), anomaly counts {counts}, "
          f"gsnr/eb/disparity from PyTorch per-sample gradients, weight_alpha from NumPy eigenvalues and every "
          f"rule's stopping epoch agree; oracle epoch {oracle}")


if __name__ == "__main__":
    main()
