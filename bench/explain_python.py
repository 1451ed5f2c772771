#!/usr/bin/env python3
"""The Python way of what `filterscope visualize` and `filterscope hierarchy` do, for the benchmark of
bench/RESULTS.md: the network rebuilt in PyTorch from a filterscope checkpoint (eager mode),
activation maximisation of the 10 class logits for 512 Adam steps from noise (one batch, pixels
clamped to [0, 1]), Grad-CAM of 1,000 test images at features.7 with autograd, and the category
hierarchy over 10,000 test images (a hook's class means, 1/2 (1 - cos), SciPy's weighted linkage and
minimum spanning tree).

  explain_python.py RUN [--threads 2]
Prints one JSON line: seconds per part.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from scipy.cluster.hierarchy import linkage
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial.distance import squareform

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "activations"))
from check_ood_reference import FASHION, read_idx  # noqa: E402
from export_torchscript import load_checkpoint_network  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    times = {}
    t0 = time.perf_counter()
    epoch = max(int(f[6:9]) for f in os.listdir(os.path.join(args.run, "checkpoints")))
    net, run, _ = load_checkpoint_network(args.run, epoch)
    for q in net.parameters():
        q.requires_grad_(False)
    norm = run["dataset"]["normalisation"]
    mean, std = float(norm["mean"][0]), float(norm["std"][0])
    test = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))
    test_y = read_idx(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), images=False)
    times["load"] = time.perf_counter() - t0

    # Activation maximisation: 10 class logits, 512 Adam steps.
    t0 = time.perf_counter()
    torch.manual_seed(0)
    x = (torch.randn(10, 1, 28, 28) * std + mean).clamp(0, 1).requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.05)
    target = torch.arange(10)
    for _ in range(512):
        opt.zero_grad()
        loss = -net((x - mean) / std).gather(1, target[:, None]).sum()
        loss.backward()
        opt.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    with torch.no_grad():
        hits = (net((x - mean) / std).argmax(1) == target).float().mean().item()
    times["maximisation"] = time.perf_counter() - t0

    # Grad-CAM of 1,000 images.
    t0 = time.perf_counter()
    got = {}
    hook = net.features[7].register_forward_hook(lambda m, i, o: got.__setitem__("a", o))
    cams = []
    for s in range(0, 1000, 256):
        xi = torch.from_numpy((test[s:min(s + 256, 1000)].astype(np.float32) / np.float32(255) - np.float32(mean)) /
                              np.float32(std)).requires_grad_(True)
        logits = net(xi)
        a = got["a"]
        g, = torch.autograd.grad(logits.gather(1, logits.argmax(1)[:, None]).sum(), a)
        cams.append(torch.relu((g.mean((2, 3), keepdim=True) * a).sum(1)).detach())
    torch.cat(cams)
    times["gradcam"] = time.perf_counter() - t0

    # Hierarchy over 10,000 images.
    t0 = time.perf_counter()
    sums = None
    with torch.no_grad():
        for s in range(0, 10000, 256):
            xi = torch.from_numpy((test[s:s + 256].astype(np.float32) / np.float32(255) - np.float32(mean)) / np.float32(std))
            net(xi)
            a = got["a"].flatten(1).double().numpy()
            if sums is None:
                sums = np.zeros((10, a.shape[1]))
            np.add.at(sums, test_y[s:s + 256], a)
    reps = sums / np.bincount(test_y[:10000], minlength=10)[:, None]
    unit = reps / np.linalg.norm(reps, axis=1, keepdims=True)
    d = np.maximum(0.5 * (1 - unit @ unit.T), 0)
    np.fill_diagonal(d, 0)
    linkage(squareform(d, checks=False), method="weighted")
    minimum_spanning_tree(d)
    hook.remove()
    times["hierarchy"] = time.perf_counter() - t0
    print(json.dumps({"seconds": times, "class_success_rate": hits}))


if __name__ == "__main__":
    main()
