#!/usr/bin/env python3
"""The Python reference for one layer: a loop over filters of scikit-learn's PCA, GaussianMixture
for every K and calinski_harabasz_score, as a Python user would write it.

    sklearn_layer.py MAPS.npy [--kmin 2] [--kmax 10] [--seed 0] [--out result.json]

MAPS.npy holds [N, C, H, W] feature maps. Prints one JSON line: the time and the chosen K per filter.
"""
import argparse
import json
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score
from sklearn.mixture import GaussianMixture


def cluster_filter(maps, kmin, kmax, seed):
    points = PCA(n_components=2, random_state=seed).fit_transform(maps)
    best_k, best_ch = None, -np.inf
    for k in range(kmin, kmax + 1):
        gmm = GaussianMixture(n_components=k, random_state=seed).fit(points)
        labels = gmm.predict(points)
        if len(np.unique(labels)) < 2:
            continue
        ch = calinski_harabasz_score(points, labels)
        if ch > best_ch:
            best_k, best_ch = k, ch
    return best_k


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("maps")
    parser.add_argument("--kmin", type=int, default=2)
    parser.add_argument("--kmax", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    maps = np.load(args.maps)
    n, c = maps.shape[:2]
    flat = maps.reshape(n, c, -1)
    warnings.filterwarnings("ignore")  # convergence warnings on degenerate filters
    start = time.perf_counter()
    chosen = [cluster_filter(flat[:, f, :], args.kmin, args.kmax, args.seed) for f in range(c)]
    seconds = time.perf_counter() - start
    print(json.dumps({"maps": args.maps, "shape": list(maps.shape), "seconds": seconds, "chosen_k": chosen}))


if __name__ == "__main__":
    main()
