#!/usr/bin/env python3
"""`filterscope visualize` (Grad-CAM) and `filterscope hierarchy` against PyTorch and SciPy on the same
trained network and images.

A simple CNN trained by `filterscope train` on Fashion-MNIST is rebuilt in PyTorch from its
checkpoint. Required:
  * Grad-CAM at features.7 for each image's predicted class, computed with PyTorch autograd (a
    forward hook keeps the maps, torch.autograd.grad gives d logit / d maps), equals filterscope's
    gradcam.npy (1e-5 of the largest value);
  * the class representative vectors (mean of features.7's flattened maps over each class's
    validation images, taken by a hook) equal representatives.npy (1e-5 relative);
  * on the hook's vectors (not filterscope's), 1/2 (1 - cos) equals distances.npy (1e-7), SciPy's
    minimum_spanning_tree has the same edges and total weight (1e-6) as hierarchy.json, and the merge
    heights of scipy.cluster.hierarchy.linkage(method="weighted") (WPGMA: a merged node's distance is
    the average of its children's) equal the hierarchy's (1e-7).

  check_explain_reference.py --filterscope BIN --workdir DIR
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np
import torch
from scipy.cluster.hierarchy import linkage
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import squareform

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "activations"))
from check_ood_reference import FASHION, read_idx  # noqa: E402
from export_torchscript import load_checkpoint_network  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filterscope", required=True)
    p.add_argument("--workdir", required=True)
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    problems = []
    run = os.path.join(args.workdir, "run")
    if not os.path.exists(os.path.join(run, "metrics.csv")):
        subprocess.run([args.filterscope, "train", "--dataset", "fashion-mnist", "--train-size", "3000", "--val-size",
                        "1000", "--epochs", "3", "--quiet", "--out", run], check=True, stdout=subprocess.DEVNULL)
    vis = os.path.join(args.workdir, "visualize")
    subprocess.run([args.filterscope, "visualize", run, "--parts", "gradcam", "--gradcam-images", "200", "--quiet",
                    "--out", vis], check=True, stdout=subprocess.DEVNULL)
    hier = os.path.join(args.workdir, "hierarchy")
    subprocess.run([args.filterscope, "hierarchy", run, "--quiet", "--out", hier], check=True, stdout=subprocess.DEVNULL)

    epoch = max(int(f[6:9]) for f in os.listdir(os.path.join(run, "checkpoints")))
    net, run_json, _ = load_checkpoint_network(run, epoch)
    norm = run_json["dataset"]["normalisation"]
    mean, std = np.float32(norm["mean"][0]), np.float32(norm["std"][0])
    test = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))
    test_y = read_idx(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), images=False)
    got = {}
    net.features[7].register_forward_hook(lambda m, i, o: got.__setitem__("a", o))

    def inputs(idx):
        return torch.from_numpy((test[idx].astype(np.float32) / np.float32(255) - mean) / std)

    # Grad-CAM with autograd.
    with open(os.path.join(vis, "visualize.json")) as f:
        v = json.load(f)
    idx = np.array([im["dataset_index"] for im in v["gradcam"]["images"]])
    logits = net(inputs(idx))
    a = got["a"]
    target = logits.argmax(1)
    grad, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), a)
    cam = torch.relu((grad.mean((2, 3), keepdim=True) * a).sum(1)).detach().double().numpy()
    ours = np.load(os.path.join(vis, "gradcam.npy"))
    err = np.abs(cam - ours).max() / max(1e-12, np.abs(cam).max())
    if not err < 1e-5:
        problems.append(f"Grad-CAM differs from PyTorch autograd's by {err:.2e} of its largest value")
    if [im["target"] for im in v["gradcam"]["images"]] != target.tolist():
        problems.append("Grad-CAM targets differ from PyTorch's predictions")

    # Representative vectors, distances, MST, hierarchy.
    val = np.array(run_json["dataset"]["val_indices"])
    with torch.no_grad():
        net(inputs(val))
    maps = got["a"].flatten(1).double().numpy()
    labels = test_y[val]
    reps = np.stack([maps[labels == c].mean(0) for c in range(10)])
    ours = np.load(os.path.join(hier, "representatives.npy"))
    rel = np.abs(reps - ours).max() / np.abs(reps).max()
    if not rel < 1e-5:
        problems.append(f"representative vectors differ from the hook's by {rel:.2e} (relative)")
    # Everything below from the hook's vectors, not from representatives.npy: a wrong vector in the
    # file then shows as wrong distances, edges and heights too.
    unit = reps / np.linalg.norm(reps, axis=1, keepdims=True)
    d = 0.5 * (1 - unit @ unit.T)
    np.fill_diagonal(d, 0)
    d = np.maximum(d, 0)
    derr = np.abs(d - np.load(os.path.join(hier, "distances.npy"))).max()
    if not derr < 1e-7:
        problems.append(f"distances.npy differs from 1/2 (1 - cos) of the hook's representatives by {derr:.2e}")
    with open(os.path.join(hier, "hierarchy.json")) as f:
        h = json.load(f)
    mst = minimum_spanning_tree(d).tocoo()
    scipy_edges = sorted((min(i, j), max(i, j)) for i, j in zip(mst.row, mst.col))
    ours_edges = sorted((e["a"], e["b"]) for e in h["mst"])
    if scipy_edges != ours_edges:
        problems.append(f"MST edges differ: SciPy {scipy_edges}, filterscope {ours_edges}")
    if not abs(mst.sum() - h["mst_weight"]) < 1e-6:
        problems.append(f"MST weight: SciPy {mst.sum()}, filterscope {h['mst_weight']}")
    z = linkage(squareform(d, checks=False), method="weighted")
    heights = sorted(n["height"] for n in h["nodes"] if n["children"])
    if not np.abs(np.sort(z[:, 2]) - np.array(heights)).max() < 1e-7:
        problems.append(f"merge heights differ from SciPy's weighted linkage: {np.sort(z[:, 2])} vs {heights}")

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"Grad-CAM of {len(idx)} images agrees with PyTorch autograd (largest difference {err:.1e} of the largest "
          f"value); representatives (relative {rel:.1e}), distances ({derr:.1e}), MST (weight {h['mst_weight']:.4f}, "
          f"{len(ours_edges)} edges) and the {len(heights)} merge heights agree with SciPy")


if __name__ == "__main__":
    main()
