#!/usr/bin/env python3
"""The Python reference for the GMM + CH stage alone: for each point set, GaussianMixture for every
K and calinski_harabasz_score, in a loop, as a Python user would write it.

    sklearn_points.py POINTS.npy [--sets S] [--kmin 2] [--kmax 10] [--seed 0]

POINTS.npy holds [S, N, 2]; --sets limits the run to the first S sets. Prints one JSON line.
"""
import argparse
import json
import time
import warnings

import numpy as np
from sklearn.metrics import calinski_harabasz_score
from sklearn.mixture import GaussianMixture


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("points")
    parser.add_argument("--sets", type=int, default=0)
    parser.add_argument("--kmin", type=int, default=2)
    parser.add_argument("--kmax", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    points = np.load(args.points)
    if args.sets:
        points = points[: args.sets]
    warnings.filterwarnings("ignore")
    start = time.perf_counter()
    chosen = []
    for p in points:
        best = (-np.inf, None)
        for k in range(args.kmin, args.kmax + 1):
            labels = GaussianMixture(n_components=k, random_state=args.seed).fit(p).predict(p)
            if len(np.unique(labels)) >= 2:
                best = max(best, (calinski_harabasz_score(p, labels), -k))
        chosen.append(-best[1] if best[1] is not None else None)
    seconds = time.perf_counter() - start
    print(json.dumps({"points": args.points, "sets": len(points), "n": points.shape[1], "seconds": seconds,
                      "seconds_per_set": seconds / len(points), "chosen_k": chosen}))


if __name__ == "__main__":
    main()
