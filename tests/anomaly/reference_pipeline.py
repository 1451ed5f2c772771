#!/usr/bin/env python3
"""The paper's pipeline written plainly in Python, checked against `filterscope analyze`.

PyTorch forward hooks capture every Conv2d / ReLU / MaxPool2d output of a network trained by
`filterscope train` on Fashion-MNIST (rebuilt in PyTorch from its checkpoint); per filter,
scikit-learn's PCA (exact, svd_solver="full"; --pca auto uses scikit-learn's default, which is
randomized at this size), GaussianMixture(random_state=seed) for every K and
calinski_harabasz_score choose K; the same anomaly criteria follow. filterscope analyses the
TorchScript export of the same checkpoint, on the same probe set (the sample indices in its
analysis.json). Required (issue 4):
  * layer names and shapes identical; mean |activation| per filter within 1e-5 (relative);
  * the same K for at least 90% of filters;
  * the anomaly sets overlap: the Jaccard index per layer is printed, and where either side flags
    filters overall, the overall Jaccard index must be at least 0.5; the same for each criterion's set.
Timing: with --bench, prints wall times of both sides for bench/RESULTS.md (the reference with the
default PCA, as a Python user would write it).
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score
from sklearn.mixture import GaussianMixture

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
from export_torchscript import load_checkpoint_network  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    n, rows, cols = (int.from_bytes(data[i:i + 4], "big") for i in (4, 8, 12))
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, 1, rows, cols)


def capture(net, x):
    """Probe outputs by forward hooks, named by module path ("@2" for a second call)."""
    got = {}

    def hook(name):
        def record(module, inputs, output):
            key, n = name, 2
            while key in got:
                key, n = f"{name}@{n}", n + 1
            got[key] = output.detach().clone()
        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in net.named_modules()
               if isinstance(m, (nn.Conv2d, nn.ReLU, nn.MaxPool2d))]
    with torch.no_grad():
        logits = net(x)
    for h in handles:
        h.remove()
    return {k: v for k, v in got.items() if v.dim() == 4}, logits


def analyse_filter(maps, kmin, kmax, seed, pca_solver):
    """maps [N, D] float64 -> (K, CH at K, labels at K) or (0, nan, None) for degenerate maps."""
    if not np.all(np.isfinite(maps)) or np.allclose(maps, maps[0]):
        return 0, float("nan"), None
    if maps.shape[1] == 1:
        pts = np.concatenate([maps - maps.mean(0), np.zeros_like(maps)], axis=1)
    else:
        pts = PCA(n_components=2, svd_solver=pca_solver, random_state=seed).fit_transform(maps)
    if np.allclose(pts, pts[0]):
        return 0, float("nan"), None
    best = (0, float("nan"), None)
    for k in range(kmin, kmax + 1):
        if k > len(pts):
            break
        labels = GaussianMixture(n_components=k, random_state=seed).fit(pts).predict(pts)
        n_labels = len(np.unique(labels))
        if not 2 <= n_labels <= len(pts) - 1:
            continue
        ch = calinski_harabasz_score(pts, labels)
        if best[2] is None or ch > best[1]:
            best = (k, ch, labels)
    return best


def criteria(results, activation, n, o):
    """The three criteria per filter of one layer, as docs/anomaly.md states them."""
    lam = max(1, int(round(o["small-cluster"] * n)))
    ks = np.array([r[0] for r in results])
    chs = np.array([r[1] for r in results])
    small = np.zeros(len(results), dtype=int)
    for i, (k, _, labels) in enumerate(results):
        if labels is not None:
            sizes = np.bincount(labels, minlength=k)
            small[i] = int(np.sum((sizes >= 1) & (sizes <= lam)))
    unbalanced = (ks > 0) & (small > o["alpha"] * ks)
    defined = np.isfinite(chs)
    mean_ch = chs[defined].mean() if defined.any() else float("nan")
    high_ch = defined & (np.nan_to_num(chs / mean_ch, nan=-1) > o["beta"])
    mean_act = activation.mean()
    active = np.isfinite(activation) & (activation > 0) & (activation / mean_act >= o["theta"]) if mean_act > 0 \
        else np.zeros(len(results), dtype=bool)
    return {"unbalanced": unbalanced, "high_ch": high_ch, "active": active,
            "anomaly": unbalanced & high_ch & active}


def jaccard(a, b):
    a, b = set(np.flatnonzero(a)), set(np.flatnonzero(b))
    return 1.0 if not a and not b else len(a & b) / len(a | b)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filterscope", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--network", default="simple-cnn")
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--train-size", type=int, default=2000)
    p.add_argument("--probe-size", type=int, default=1000)
    p.add_argument("--pca", default="full", choices=["full", "auto"])
    p.add_argument("--bench", action="store_true", help="print timings (runs the reference with --pca as given)")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    os.makedirs(args.workdir, exist_ok=True)
    run = os.path.join(args.workdir, f"run-{args.network}")
    common = ["--dataset", "fashion-mnist", "--train-size", str(args.train_size)]
    if not os.path.exists(os.path.join(run, "run.json")):
        subprocess.run([args.filterscope, "train", "--model", args.network, *common, "--epochs", str(args.epochs),
                        "--quiet", "--out", run], check=True, stdout=subprocess.DEVNULL)
    epoch = max(int(f[6:9]) for f in os.listdir(os.path.join(run, "checkpoints")))
    exported = os.path.join(args.workdir, f"{args.network}.pt")
    subprocess.run([sys.executable, os.path.join(HERE, "..", "models", "export_torchscript.py"), "checkpoint", run,
                    str(epoch), exported], check=True)
    out = os.path.join(args.workdir, f"analysis-{args.network}")
    t0 = time.perf_counter()
    subprocess.run([args.filterscope, "analyze", exported, *common, "--probe-size", str(args.probe_size), "--quiet",
                    "--out", out, "--threads", str(args.threads)], check=True, stdout=subprocess.DEVNULL)
    ours_seconds = time.perf_counter() - t0
    with open(os.path.join(out, "analysis.json")) as f:
        ours = json.load(f)
    o = ours["settings"]["anomaly"]
    g = ours["settings"]["gmm"]

    # The reference, from the checkpoint, on the same samples.
    t0 = time.perf_counter()
    net, _, _ = load_checkpoint_network(run, epoch)
    images = read_idx_images(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))
    idx = np.array(ours["probe_set"]["dataset_indices"])
    norm = ours["probe_set"]["normalisation"]
    x = (images[idx].astype(np.float32) / 255.0 - np.float32(norm["mean"][0])) / np.float32(norm["std"][0])
    maps, _ = capture(net, torch.from_numpy(x))
    ref = {}
    for name, m in maps.items():
        m = m.numpy()
        n, c = m.shape[0], m.shape[1]
        activation = np.abs(m).astype(np.float64).mean(axis=(0, 2, 3))
        flat = m.reshape(n, c, -1).transpose(1, 0, 2).astype(np.float64)
        results = [analyse_filter(flat[i], g["kmin"], g["kmax"], g["seed"], args.pca) for i in range(c)]
        ref[name] = (list(m.shape[1:]), activation, results, criteria(results, activation, n, o))
    ref_seconds = time.perf_counter() - t0

    failures = []
    total = same_k = 0
    ours_layers = {l["name"]: l for l in ours["layers"]}
    if list(ours_layers) != list(ref):
        failures.append(f"probe points differ: {list(ours_layers)} vs {list(ref)}")
    worst_act = 0.0
    sets = {key: ([], []) for key in ("unbalanced", "high_ch", "active", "anomaly")}
    print(f"{'layer':12s} {'shape':>14s} {'same K':>8s}  Jaccard: anomaly unbalanced high_ch active")
    for name, (shape, activation, results, crit) in ref.items():
        layer = ours_layers.get(name)
        if layer is None:
            continue
        if layer["shape"] != shape:
            failures.append(f"{name}: shape {layer['shape']} vs {shape}")
        ours_act = np.array([f["mean_activation"] or 0.0 for f in layer["filters"]])
        rel = np.abs(ours_act - activation) / np.maximum(np.abs(activation), 1e-12)
        worst_act = max(worst_act, float(rel.max()))
        ours_k = np.array([f["k"] or 0 for f in layer["filters"]])
        ref_k = np.array([r[0] for r in results])
        total += len(ref_k)
        same_k += int(np.sum(ours_k == ref_k))
        row = []
        for key in sets:
            mine = np.array([f["anomaly"] if key == "anomaly" else f["criteria"][key] for f in layer["filters"]])
            sets[key][0].extend((name, i) for i in np.flatnonzero(mine))
            sets[key][1].extend((name, i) for i in np.flatnonzero(crit[key]))
            row.append(jaccard(mine, crit[key]))
        print(f"{name:12s} {str(shape):>14s} {np.mean(ours_k == ref_k):8.1%}  " + " ".join(f"{v:.2f}" for v in row))
    if worst_act > 1e-5:
        failures.append(f"mean activation differs by {worst_act:.2e} (relative) > 1e-5")
    agreement = same_k / max(total, 1)
    if agreement < 0.9:
        failures.append(f"same K for {agreement:.1%} of filters < 90%")
    print(f"same K: {same_k}/{total} filters ({agreement:.1%}); worst mean-activation difference {worst_act:.1e}")
    for key, (mine, theirs) in sets.items():
        a, b = set(mine), set(theirs)
        j = 1.0 if not a and not b else len(a & b) / len(a | b)
        print(f"{key:10s}: filterscope {len(a):4d}, reference {len(b):4d}, both {len(a & b):4d}, Jaccard {j:.2f}")
        if (a or b) and j < 0.5:
            failures.append(f"{key} sets overlap weakly: Jaccard {j:.2f}")
    if args.bench:
        print(f"timing: filterscope analyze {ours_seconds:.2f} s (whole command), reference {ref_seconds:.2f} s "
              f"(pca={args.pca}), ratio {ref_seconds / ours_seconds:.1f}x")
    for f in failures:
        print("FAIL:", f)
    print("reference pipeline:", "FAILED" if failures else "passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
