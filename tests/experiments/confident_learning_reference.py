#!/usr/bin/env python3
"""Confident learning (Northcutt, Jiang & Chuang 2021) in NumPy, written from the paper's definitions
and cleanlab's documented semantics (compute_confident_joint with calibration; find_label_issues with
filter_by="prune_by_noise_rate"), as the independent reference of filterscope's C++
(tests/experiments/test_confident_learning.cpp calls this script).

For each case it draws seeded labels and out-of-sample-like probabilities (some samples given a wrong
label and a confident prediction of the true one), and writes into OUT/case-C/:
  labels.npy [N] int64, probs.npy [N, K] float64,
  thresholds.npy [K], joint.npy [K, K] (before calibration), calibrated.npy [K, K],
  prune.npy [K, K] (transposed, at least one sample kept per class), issues.npy [N] bool.
Ties are broken by a stable sort, as the C++ does (cleanlab's numpy quicksort leaves them open).

  confident_learning_reference.py OUT
"""
import os
import sys

import numpy as np


def thresholds_of(labels, p):
    k = p.shape[1]
    t = np.array([p[labels == j, j].mean() if np.any(labels == j) else 2.0 for j in range(k)])
    return np.clip(t, 2e-6, None)


def confident_joint(labels, p, t):
    """C[given][true]: a sample counts for class j when p_j >= t_j - 1e-6; with several, the argmax."""
    n, k = p.shape
    c = np.zeros((k, k), dtype=np.int64)
    for i in range(n):
        confident = np.nonzero(p[i] >= t - 1e-6)[0]
        if len(confident) == 0:
            continue
        true = int(np.argmax(p[i])) if len(confident) > 1 else int(confident[0])
        c[labels[i], true] += 1
    np.fill_diagonal(c, np.maximum(np.diagonal(c), 1))
    return c


def round_preserving_sum(values):
    floats = np.asarray(values, dtype=float)
    ints = np.round(floats)
    target = np.round(floats.sum())
    int_sum = np.round(ints.sum())
    while abs(int_sum - target) > 1e-6:
        diff = np.round(target - int_sum)
        inc = -1 if diff < 0 else 1
        changes = min(int(abs(diff)), len(floats))
        order = np.argsort(floats - ints, kind="stable")
        if inc > 0:
            order = order[::-1]
        for i in order[:changes]:
            ints[i] += inc
        int_sum = np.round(ints.sum())
    return ints.astype(np.int64)


def calibrate(c, labels, k):
    counts = np.bincount(labels, minlength=k).astype(float)
    rows = np.clip(c.sum(axis=1), 1e-100, None)
    cal = c / rows[:, None] * counts[:, None]
    cal = cal / np.clip(cal.sum(), 1e-100, None) * counts.sum()
    return np.array([round_preserving_sum(r) for r in cal])


def prune_counts(cal):
    m = cal.T.astype(float)
    diag = np.diagonal(m).copy()
    raised = np.maximum(diag, 1)
    diff = raised - diag
    spread = np.maximum(np.count_nonzero(m, axis=0) - 1.0, 1.0)
    m = m - diff / spread
    m[m < 0] = 0
    np.fill_diagonal(m, raised)
    m = np.trunc(m)
    return np.array([round_preserving_sum(r) for r in m])


def issues(labels, p, prune):
    n, k = p.shape
    flagged = np.zeros(n, dtype=bool)
    for cls in range(k):
        members = np.nonzero(labels == cls)[0]
        if len(members) <= 1:
            continue
        for j in range(k):
            count = prune[j, cls]
            if j == cls or count <= 0:
                continue
            margin = p[members, j] - p[members, cls]
            order = np.argsort(-margin, kind="stable")
            flagged[members[order[:count]]] = True
    flagged[np.argmax(p, axis=1) == labels] = False
    return flagged


def make_case(seed, n, k, noise, sharp):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, k, n)
    labels = true.copy()
    flip = rng.random(n) < noise
    labels[flip] = (true[flip] + rng.integers(1, k, flip.sum())) % k
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), true] += sharp * rng.random(n)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return labels.astype(np.int64), p


def main():
    out = sys.argv[1]
    cases = [make_case(1, 300, 3, 0.2, 3.0), make_case(2, 500, 10, 0.3, 4.0), make_case(3, 50, 4, 0.4, 1.0),
             make_case(4, 200, 5, 0.0, 6.0)]
    # A class with a single sample (never pruned) and a class nobody is labelled with.
    labels, p = make_case(5, 120, 4, 0.25, 3.0)
    labels[labels == 3] = 0
    labels[7] = 3
    labels[labels == 2] = 1
    cases.append((labels, p))
    # A weak model on heavy noise: pruning picks samples the model predicts as labelled, which the
    # last rule (the model agrees with the given label: not an issue) takes back.
    cases.append(make_case(28, 150, 3, 0.45, 0.3))
    for c, (labels, p) in enumerate(cases):
        d = os.path.join(out, f"case-{c}")
        os.makedirs(d, exist_ok=True)
        k = p.shape[1]
        t = thresholds_of(labels, p)
        joint = confident_joint(labels, p, t)
        cal = calibrate(joint, labels, k)
        prune = prune_counts(cal)
        np.save(os.path.join(d, "labels.npy"), labels)
        np.save(os.path.join(d, "probs.npy"), p)
        np.save(os.path.join(d, "thresholds.npy"), t)
        np.save(os.path.join(d, "joint.npy"), joint)
        np.save(os.path.join(d, "calibrated.npy"), cal)
        np.save(os.path.join(d, "prune.npy"), prune)
        np.save(os.path.join(d, "issues.npy"), issues(labels, p, prune))
    print(len(cases))


if __name__ == "__main__":
    main()
