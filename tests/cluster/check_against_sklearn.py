#!/usr/bin/env python3
"""Checks `filterscope cluster` against scikit-learn on the same .npy point sets.

For every set, filterscope and scikit-learn (GaussianMixture, calinski_harabasz_score) run on the
same points, K = 2..10. Required:
  * CH equal to scikit-learn's to 1e-9 relative when both score the same labels (filterscope's);
  * filterscope's seed draws what numpy.random.RandomState(seed) draws, so both sides start every
    fit from the same k-means++ centres: on well-separated data, with n_init=1 and n_init=10, every
    fit's final mean log-likelihood within 1e-3 of scikit-learn's, for every K (also above the true
    number of clusters, where EM has many local optima), and at least 99% of the labels the same;
  * with the defaults (n_init=1), the same chosen K on the well-separated and the outlier sets;
  * a constant set gets no K and a note; N close to K gets undefined CH where scikit-learn raises.
Both backends (fused CPU kernel, batched tensor program) are checked. Prints a table; exits 1 on
any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import warnings

import numpy as np
from sklearn.metrics import calinski_harabasz_score
from sklearn.mixture import GaussianMixture

KMIN, KMAX = 2, 10


def make_sets(rng):
    sets = {}
    for seed in range(3):
        r = np.random.default_rng(100 + seed)
        centres = np.array([[0, 0], [9, 1], [2, 10], [11, 11]])[: 3 + seed % 2]
        sets[f"blobs{seed}"] = (np.concatenate([r.normal(c, 0.7, size=(150, 2)) for c in centres]), "separated")
    r = np.random.default_rng(7)
    core = r.normal(0, 1.0, size=(400, 2)) * [3, 1]
    far = np.array([[25, 20], [26, 21], [25.5, 19.5], [-22, 24], [-23, 23.5], [-22.5, 25]])
    sets["outliers"] = (np.concatenate([core, far]), "outliers")
    sets["constant"] = (np.full((40, 2), 1.5), "constant")
    r = np.random.default_rng(9)
    sets["n_near_k"] = (np.concatenate([r.normal(c, 0.3, size=(4, 2)) for c in [[0, 0], [5, 5], [0, 5]]]), "small")
    return sets


def run_filterscope(binary, path, backend, n_init):
    out = path.replace(".npy", f".{backend}.{n_init}.json")
    labels = path.replace(".npy", f".{backend}.{n_init}.labels.npy")
    cmd = [binary, "cluster", path, "--out", out, "--all-labels-out", labels, "--backend", backend,
           "--n-init", str(n_init), "--kmin", str(KMIN), "--kmax", str(KMAX)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    with open(out) as f:
        return json.load(f)["sets"][0], np.load(labels)[0]


def sklearn_fits(points, n_init, with_labels=False):
    fits = {}
    for k in range(KMIN, KMAX + 1):
        if k > len(points):
            continue
        gmm = GaussianMixture(n_components=k, random_state=0, n_init=n_init).fit(points)
        labels = gmm.predict(points)
        try:
            ch = calinski_harabasz_score(points, labels)
        except ValueError:
            ch = None
        fits[k] = (gmm.score(points), ch, labels) if with_labels else (gmm.score(points), ch)
    return fits


def chosen_k(fits):
    scored = [(fit[1], k) for k, fit in fits.items() if fit[1] is not None]
    return max(scored, key=lambda t: (t[0], -t[1]))[1] if scored else None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--filterscope", required=True)
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    warnings.filterwarnings("ignore")
    failures = []
    checks = 0

    def check(ok, what):
        nonlocal checks
        checks += 1
        if not ok:
            failures.append(what)
            print("FAIL:", what)

    worst_ch = 0.0
    worst_ll = 0.0
    worst_labels = 1.0
    for name, (points, kind) in make_sets(None).items():
        path = os.path.join(args.workdir, f"{name}.npy")
        np.save(path, points.astype(np.float64))
        default_fits = sklearn_fits(points, 1) if kind != "constant" else {}
        for backend in ("fused", "tensor"):
            ours, labels = run_filterscope(args.filterscope, path, backend, 1)
            # CH: scikit-learn scoring our labels.
            for j, fit in enumerate(ours["fits"]):
                if not fit["fitted"]:
                    check(fit["k"] > len(points), f"{name}/{backend}: K={fit['k']} not fitted on {len(points)} points")
                    continue
                n_labels = len(np.unique(labels[j]))
                if 2 <= n_labels <= len(points) - 1:
                    ref = calinski_harabasz_score(points, labels[j])
                    rel = abs(fit["ch"] - ref) / max(abs(ref), 1e-300)
                    worst_ch = max(worst_ch, rel)
                    check(rel <= 1e-9, f"{name}/{backend}: K={fit['k']} CH {fit['ch']} vs sklearn {ref} (rel {rel:.2e})")
                else:
                    check(fit["ch"] is None, f"{name}/{backend}: K={fit['k']} CH should be undefined with {n_labels} labels")
            if kind == "constant":
                check(ours["k"] is None and ours["note"] == "all points identical",
                      f"{name}/{backend}: constant set got k={ours['k']} note={ours['note']!r}")
            elif kind in ("separated", "outliers"):
                ref_k = chosen_k(default_fits)
                check(ours["k"] == ref_k, f"{name}/{backend}: chosen K {ours['k']} vs sklearn {ref_k}")
                print(f"{name:9s} {backend:6s} chosen K {ours['k']} (sklearn {ref_k})")
            elif kind == "small":
                undefined = [f["k"] for f in ours["fits"] if f["fitted"] and f["ch"] is None]
                check(sum(f["fitted"] for f in ours["fits"]) == KMAX - KMIN + 1, f"{name}: K <= N fits run")
                print(f"{name:9s} {backend:6s} chosen K {ours['k']}, CH undefined for K {undefined}")
            if kind == "separated":
                for n_init in (1, 10):
                    ours_n, labels_n = run_filterscope(args.filterscope, path, backend, n_init)
                    ref_n = sklearn_fits(points, n_init, with_labels=True)
                    for j, fit in enumerate(ours_n["fits"]):
                        ref_ll, _, ref_labels = ref_n[fit["k"]]
                        gap = abs(ref_ll - fit["log_likelihood"])
                        worst_ll = max(worst_ll, gap)
                        check(gap <= 1e-3, f"{name}/{backend}/n_init={n_init}: K={fit['k']} log-likelihood "
                                           f"{fit['log_likelihood']:.6f} vs sklearn {ref_ll:.6f}")
                        same = float(np.mean(labels_n[j] == ref_labels))
                        worst_labels = min(worst_labels, same)
                        check(same >= 0.99, f"{name}/{backend}/n_init={n_init}: K={fit['k']} only "
                                            f"{same:.1%} of labels as sklearn's")
    print(f"worst CH relative difference: {worst_ch:.3e} (limit 1e-9)")
    print(f"worst |log-likelihood difference| vs sklearn, every K, n_init 1 and 10: {worst_ll:.3e} (limit 1e-3)")
    print(f"lowest share of labels equal to sklearn's in one fit: {worst_labels:.4f} (limit 0.99)")
    passed = checks - len(failures)
    print(f"sklearn agreement: {passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
