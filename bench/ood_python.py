#!/usr/bin/env python3
"""The Python way of doing what `filterscope activations` and `filterscope ood` do, for the benchmark
of bench/RESULTS.md: a network rebuilt in PyTorch from a filterscope checkpoint, forward hooks on its
hidden layers, numpy for the class-wise statistics, scikit-learn for the detectors' statistics
(EmpiricalCovariance, NearestNeighbors, PCA + GaussianMixture + calinski_harabasz_score) and the
metrics. The same work as the two commands with their defaults:

  activations: S1 and S2 frequencies of every hidden layer on ID and a shifted (inverted) copy,
               histograms, KL between classes on the last three layers (4 pairs x 2 significances),
               neuron-weight interactions of both fully connected layers on both sets;
  ood:         msp, max_logit, energy, ODIN, Mahalanobis, multi-layer Mahalanobis, KNN (k = 50),
               the activation-pattern divergence, per-filter GMM likelihood (1,000 training images),
               AUROC/FPR95/AUPR of each against MNIST.

  ood_python.py RUN --images 10000 --mnist DIR [--threads 2]
Prints one JSON line: seconds per part and in all.
"""
import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch
from sklearn.covariance import EmpiricalCovariance
from sklearn.decomposition import PCA
from sklearn.metrics import average_precision_score, calinski_harabasz_score, roc_auc_score, roc_curve
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import NearestNeighbors

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "activations"))
from check_ood_reference import read_idx, read_mnist_json  # noqa: E402
from export_torchscript import load_checkpoint_network  # noqa: E402

FASHION = "/usr/share/datasets/fashion-mnist"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("run")
    p.add_argument("--images", type=int, default=10000)
    p.add_argument("--mnist", required=True)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--fit-images", type=int, default=10000)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    times = {}

    # ---- data and model
    t0 = time.perf_counter()
    epoch = max(int(f[6:9]) for f in os.listdir(os.path.join(args.run, "checkpoints")))
    net, run, _ = load_checkpoint_network(args.run, epoch)
    norm = run["dataset"]["normalisation"]
    mean, std = np.float32(norm["mean"][0]), np.float32(norm["std"][0])
    test = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))[: args.images]
    test_y = read_idx(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), images=False)[: args.images]
    train_idx = np.array(run["dataset"]["train_indices"])[: args.fit_images]
    train = read_idx(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))[train_idx]
    train_y = read_idx(os.path.join(FASHION, "train-labels-idx1-ubyte.gz"), images=False)[train_idx]
    mnist = read_mnist_json(args.mnist)[0][: args.images]
    times["load"] = time.perf_counter() - t0

    hidden = [name for name, m in net.named_modules() if isinstance(m, torch.nn.ReLU)]
    modules = dict(net.named_modules())
    got = {}
    for name in hidden + ["classifier.0", "classifier.2"]:
        modules[name].register_forward_hook(lambda m, i, o, name=name: got.__setitem__(name, (i[0].detach(), o.detach())))

    net_seconds = [0.0]  # forward (and ODIN's backward) passes; the rest is statistics

    def run_net(pixels, batch=256):
        t_net = time.perf_counter()
        outs = {n: [] for n in hidden}
        fc_in = {n: [] for n in ("classifier.0", "classifier.2")}
        logits = []
        for s in range(0, len(pixels), batch):
            x = torch.from_numpy((pixels[s:s + batch].astype(np.float32) / np.float32(255) - mean) / std)
            with torch.no_grad():
                logits.append(net(x).double().numpy())
            for n in hidden:
                o = got[n][1]
                outs[n].append((o.flatten(2).mean(2) if o.dim() == 4 else o).numpy())
            for n in fc_in:
                fc_in[n].append(got[n][0].flatten(1).numpy())
        result = np.concatenate(logits), {n: np.concatenate(v) for n, v in outs.items()}, \
            {n: np.concatenate(v) for n, v in fc_in.items()}
        net_seconds[0] += time.perf_counter() - t_net
        return result

    # ---- activations: the in-distribution set and its inverted copy
    t0 = time.perf_counter()
    k = 10
    freqs = {}
    for set_name, px in (("in", test), ("shift", 255 - test)):
        _, values, fc_in = run_net(px)
        for layer, v in values.items():
            s1 = v > 0
            srt = -np.sort(-v, axis=1)
            upper, lower = srt[:, :-1], srt[:, 1:]
            gap = (lower > 0) & (upper > lower * 1000)
            last = np.where(gap.any(1), gap.shape[1] - 1 - np.argmax(gap[:, ::-1], 1), -1)
            thr = np.where(last >= 0, upper[np.arange(len(v)), np.maximum(last, 0)], np.inf)
            s2 = (v >= thr[:, None]) & (v > 0)
            for sig, s in (("s1", s1), ("s2", s2)):
                f = np.stack([s[test_y == c].mean(0) for c in range(k)])
                freqs[(set_name, layer, sig)] = f
                np.stack([np.histogram(r, bins=100, range=(0, 1))[0] for r in f])
        for fc in ("classifier.0", "classifier.2"):
            w = modules[fc].weight.detach().numpy()
            x = fc_in[fc]
            counts = np.zeros((k,) + w.shape)
            for s in range(0, len(x), 64):
                t = np.abs(w[None] * x[s:s + 64, None, :])
                sig = t * w.shape[1] > t.sum(2, keepdims=True)
                for c in range(k):
                    counts[c] += sig[test_y[s:s + 64] == c].sum(0)
            f = counts / np.bincount(test_y, minlength=k)[:, None, None]
            np.stack([np.histogram(r, bins=100, range=(0, 1))[0] for r in f.reshape(k, -1)])

    def dist(f, smoothing=1e-6):
        s = f + smoothing
        return s / s.sum(1, keepdims=True)

    for layer in hidden[-3:]:
        for sig in ("s1", "s2"):
            for a, b in (("in", "in"), ("shift", "shift"), ("in", "shift"), ("shift", "in")):
                p, q = dist(freqs[(a, layer, sig)]), dist(freqs[(b, layer, sig)])
                (p[:, None, :] * (np.log(p[:, None, :]) - np.log(q[None, :, :]))).sum(2)
    times["activations"] = time.perf_counter() - t0

    # ---- ood: fit on training images, score ID and MNIST
    t0 = time.perf_counter()
    _, fit_values, _ = run_net(train)
    feat = "classifier.1"
    maha_layers = hidden[-4:]
    models = {}
    for layer in set(maha_layers + [feat]):
        f = fit_values[layer].astype(np.float64)
        means = np.stack([f[train_y == c].mean(0) for c in range(k)])
        models[layer] = (means, EmpiricalCovariance(assume_centered=True).fit(f - means[train_y]))
    bank = fit_values[feat] / np.maximum(np.linalg.norm(fit_values[feat], axis=1, keepdims=True), 1e-12)
    knn = NearestNeighbors(n_neighbors=50).fit(bank)
    pattern_layers = hidden[-3:]
    pattern_freq = {l: np.stack([(fit_values[l] > 0)[train_y == c].mean(0) for c in range(k)]) for l in pattern_layers}
    # GMM per filter of the last hidden layer with maps, on 1,000 training images.
    gmm_layer = [n for n in hidden if n.startswith("features")][-1]
    maps = []
    t_net = time.perf_counter()
    for s in range(0, 1000, 250):
        x = torch.from_numpy((train[s:s + 250].astype(np.float32) / np.float32(255) - mean) / std)
        with torch.no_grad():
            net(x)
        maps.append(got[gmm_layer][1].numpy())
    maps = np.concatenate(maps)
    net_seconds[0] += time.perf_counter() - t_net
    gmms = []
    for c in range(maps.shape[1]):
        x = maps[:, c].reshape(len(maps), -1).astype(np.float64)
        pca = PCA(n_components=2, svd_solver="full").fit(x)
        z = pca.transform(x)
        best, best_ch = None, -np.inf
        for kk in range(2, 11):
            g = GaussianMixture(kk, random_state=0).fit(z)
            labels = g.predict(z)
            if len(np.unique(labels)) < 2:
                continue
            ch = calinski_harabasz_score(z, labels)
            if ch > best_ch:
                best, best_ch = g, ch
        gmms.append((pca, best))
    times["ood_fit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    scores = {}
    for set_name, px in (("in", test), ("mnist", mnist)):
        logits, values, _ = run_net(px)
        z = np.exp(logits - logits.max(1, keepdims=True))
        sc = {"msp": (z / z.sum(1, keepdims=True)).max(1), "max_logit": logits.max(1),
              "energy": logits.max(1) + np.log(z.sum(1))}
        means, cov = models[feat]
        sc["mahalanobis"] = -np.min(np.stack([cov.mahalanobis(values[feat] - m) for m in means], 1), 1)
        total = 0
        for layer in maha_layers:
            means, cov = models[layer]
            total = total - np.min(np.stack([cov.mahalanobis(values[layer] - m) for m in means], 1), 1) / means.shape[1]
        sc["mahalanobis_multi"] = total
        q = values[feat] / np.maximum(np.linalg.norm(values[feat], axis=1, keepdims=True), 1e-12)
        sc["knn"] = -knn.kneighbors(q)[0][:, -1]
        pred = logits.argmax(1)
        total = 0
        for layer in pattern_layers:
            pp = dist((values[layer] > 0).astype(np.float64))
            qq = dist(pattern_freq[layer])[pred]
            total = total - (pp * (np.log(pp) - np.log(qq))).sum(1)
        sc["pattern"] = total
        # ODIN
        t_net = time.perf_counter()
        odin = []
        for s in range(0, len(px), 256):
            x = torch.from_numpy((px[s:s + 256].astype(np.float32) / np.float32(255) - mean) / std).requires_grad_(True)
            out = net(x) / 1000.0
            loss = torch.nn.functional.nll_loss(torch.log_softmax(out, 1), out.argmax(1), reduction="sum")
            g, = torch.autograd.grad(loss, x)
            with torch.no_grad():
                o = net(x.detach() - 0.0014 * g.sign()).double() / 1000.0
            odin.append(torch.softmax(o, 1).max(1).values.numpy())
        sc["odin"] = np.concatenate(odin)
        net_seconds[0] += time.perf_counter() - t_net
        # GMM likelihood
        ll = np.zeros(len(px))
        for s in range(0, len(px), 1000):
            x = torch.from_numpy((px[s:s + 1000].astype(np.float32) / np.float32(255) - mean) / std)
            t_net = time.perf_counter()
            with torch.no_grad():
                net(x)
            net_seconds[0] += time.perf_counter() - t_net
            m = got[gmm_layer][1].numpy()
            for c, (pca, g) in enumerate(gmms):
                if g is not None:
                    ll[s:s + 1000] += g.score_samples(pca.transform(m[:, c].reshape(len(m), -1).astype(np.float64)))
        sc["gmm"] = ll
        scores[set_name] = sc
    metrics = {}
    for d in scores["in"]:
        a, b = scores["in"][d], scores["mnist"][d]
        y = np.r_[np.ones(len(a)), np.zeros(len(b))]
        s = np.r_[a, b]
        fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
        metrics[d] = {"auroc": roc_auc_score(y, s), "fpr95": float(fpr[np.argmax(tpr >= 0.95)]),
                      "aupr_in": average_precision_score(y, s), "aupr_out": average_precision_score(1 - y, -s)}
    times["ood_score"] = time.perf_counter() - t0
    times["total"] = time.perf_counter() - t_start
    times["network_passes"] = net_seconds[0]
    times["statistics"] = times["total"] - times["load"] - net_seconds[0]
    print(json.dumps({"seconds": times, "auroc": {d: round(m["auroc"], 4) for d, m in metrics.items()}}))


if __name__ == "__main__":
    main()
