#!/usr/bin/env python3
"""`import filterscope` under /usr/bin/python3, checked against the CLI and against independent
computations:

  abi        the extension and torch._C agree on _GLIBCXX_USE_CXX11_ABI and on pybind11's internals (the
             builtins hold one internals record, the one torch made, and it carries the module's id);
  commands   ood and gradients on a live module equal the CLI's tables on its export and the same pixels;
             activations, visualize and hierarchy run on it (uint8 pixels required, ValueError for floats);
  analyze    filterscope.analyze on a live nn.Module equals `filterscope analyze` of the same model
             exported to TorchScript on the same images (an npy dataset), file for file: filters.csv and
             outliers.csv byte-identical, analysis.json equal but for where the model and data came from
             and the seconds; for the built-in simple-cnn (rebuilt in PyTorch from a checkpoint) and a
             torchvision ResNet-18 (random weights);
  monitor    a small CNN trained in PyTorch on Fashion-MNIST with 20 % label noise injected here, with
             filterscope.Monitor in the loop: every training sample's loss, margin and prediction in
             RUN/samples/ equal those computed here with NumPy from the logits the loop reported; AUM in
             clean.csv equals minus the mean margin; the weight statistics of run.sqlite's epoch-end records
             equal the norms, means and standard deviations of the weights captured here; metrics.csv's
             validation loss equals PyTorch's; the run is accepted by track, overfit, clean, report, study
             (and serve, in serve.browser);
  no val     a loop without a validation set: NaN validation metrics, and `overfit` (CLI and Python) gives
             each signal's stopping epoch with no oracle;
  errors     a bad keyword or value raises ValueError with the CLI's message; a wrong type TypeError; a
             model without convolutions, a monitor called out of order or twice for an epoch, and a run
             directory that holds a run raise filterscope.Error, and leave nothing half written.

  check_package.py --package BUILD/python --filterscope BIN --workdir DIR
"""
import argparse
import builtins
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "activations"))
from check_ood_reference import FASHION, read_idx  # noqa: E402
from export_torchscript import load_checkpoint_network  # noqa: E402

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)
        print("FAIL:", what)


def raises(kind, text, f):
    try:
        f()
    except kind as e:
        check(text in str(e), f"{kind.__name__} says {str(e)!r}, expected it to contain {text!r}")
        return str(e)
    except Exception as e:  # noqa: BLE001
        check(False, f"expected {kind.__name__} containing {text!r}, got {type(e).__name__}: {e}")
        return None
    check(False, f"expected {kind.__name__} containing {text!r}, nothing was raised")
    return None


class SmallCnn(nn.Module):
    """A user's network, defined here (not one of filterscope's built-ins)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3)
        self.conv2 = nn.Conv2d(16, 32, 3)
        self.fc = nn.Linear(32 * 5 * 5, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


def fashion(n_train, n_val, seed):
    images = read_idx(os.path.join(FASHION, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FASHION, "train-labels-idx1-ubyte.gz"), images=False)
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(images), n_train + n_val, replace=False)
    x = torch.from_numpy((images[pick].astype(np.float32) / 255 - 0.286) / 0.353)
    y = torch.from_numpy(labels[pick])
    return (x[:n_train], y[:n_train]), (x[n_train:], y[n_train:])


def write_npy_dataset(folder, images, labels):
    os.makedirs(folder, exist_ok=True)
    for split in ("train", "test"):
        np.save(os.path.join(folder, f"{split}-images.npy"), images.numpy())
        np.save(os.path.join(folder, f"{split}-labels.npy"), labels.numpy().astype(np.int64))


def without_provenance(record):
    r = json.loads(json.dumps(record))
    r.pop("model", None)
    for key in ("capture_seconds", "cluster_seconds"):
        r["summary"].pop(key, None)
    for key in ("dataset", "split_name", "split"):
        r["probe_set"].pop(key, None)
    for layer in r["layers"]:
        layer.pop("seconds", None)
    return r


def compare_with_cli(fsc, args, name, module, images, labels, probe, workdir, extra=()):
    """Python's analysis of `module` equals the CLI's of its TorchScript export on the same images."""
    folder = os.path.join(workdir, name)
    shutil.rmtree(folder, ignore_errors=True)
    data = os.path.join(folder, "data")
    write_npy_dataset(data, images, labels)
    exported = os.path.join(folder, f"{name}.pt")
    torch.jit.script(module).save(exported)
    cli_out = os.path.join(folder, "cli")
    subprocess.run([args.filterscope, "analyze", exported, "--dataset", "npy", "--data-dir", data, "--split", "val",
                    "--val-size", "0", "--probe-size", str(probe), "--threads", "2", "--quiet", "--out", cli_out, *extra],
                   check=True, stdout=subprocess.DEVNULL)
    kwargs = {"probe_size": probe, "threads": 2}
    for i in range(0, len(extra), 2):
        kwargs[extra[i][2:].replace("-", "_")] = type_of(extra[i + 1])
    result = fsc.analyze(module, (images, labels), **kwargs)
    py_out = result.save(os.path.join(folder, "python"))
    # probe_points (analyze --list-layers): the same table as the CLI's, and its convolutions are
    # PyTorch's own Conv2d modules, in order, with their out_channels.
    points = fsc.probe_points(module, images[:2])
    listed = subprocess.run([args.filterscope, "analyze", exported, "--dataset", "npy", "--data-dir", data, "--list-layers"],
                            check=True, capture_output=True, text=True).stdout.splitlines()[1:]
    cli_rows = [line.split() for line in listed if line.strip() and not line.startswith("--layers")]
    check([r[0] for r in cli_rows] == list(points["name"]), f"{name}: probe_points {list(points['name'])} vs --list-layers")
    convs = [(n, m.out_channels) for n, m in module.named_modules() if isinstance(m, torch.nn.Conv2d)]
    listed_convs = [(r.name, r.channels) for r in points.itertuples() if r.kind == "conv"]
    check(listed_convs == convs, f"{name}: convolutions {listed_convs}, PyTorch's modules {convs}")
    for f in ("filters.csv", "outliers.csv"):
        with open(os.path.join(cli_out, f), "rb") as a, open(os.path.join(py_out, f), "rb") as b:
            check(a.read() == b.read(), f"{name}: {f} from Python differs from the CLI's")
    with open(os.path.join(cli_out, "analysis.json")) as a, open(os.path.join(py_out, "analysis.json")) as b:
        cli_record, py_record = json.load(a), json.load(b)
    check(without_provenance(cli_record) == without_provenance(py_record), f"{name}: analysis.json differs beyond provenance")
    check(list(result.filters.columns)[:4] == ["layer", "kind", "owner_conv", "filter"], f"{name}: filters columns")
    summary = cli_record["summary"]
    check(len(result.filters) == summary["filters"], f"{name}: {len(result.filters)} rows for {summary['filters']} filters")
    print(f"{name}: {summary['filters']} filters, {summary['anomaly_filters']} anomaly filters, "
          f"{len(result.outliers)} outliers: Python equals the CLI")
    return result


def type_of(text):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def check_model_commands(fsc, args, workdir):
    """ood, activations, visualize, hierarchy, gradients and mask on a live module: ood's and gradients'
    tables equal the CLI's on the same model (exported) and images (an npy dataset of uint8 pixels)."""
    root = FASHION
    x = torch.from_numpy(read_idx(os.path.join(root, "train-images-idx3-ubyte.gz"))[:600].copy())
    y = torch.from_numpy(read_idx(os.path.join(root, "train-labels-idx1-ubyte.gz"), images=False)[:600].copy())
    tx = torch.from_numpy(read_idx(os.path.join(root, "t10k-images-idx3-ubyte.gz"))[:300].copy())
    ty = torch.from_numpy(read_idx(os.path.join(root, "t10k-labels-idx1-ubyte.gz"), images=False)[:300].copy())
    folder = os.path.join(workdir, "one-model")
    shutil.rmtree(folder, ignore_errors=True)
    data = os.path.join(folder, "data")
    os.makedirs(data)
    for split, (a, b) in (("train", (x, y)), ("test", (tx, ty))):
        np.save(os.path.join(data, f"{split}-images.npy"), a.numpy())
        np.save(os.path.join(data, f"{split}-labels.npy"), b.numpy())
    torch.manual_seed(0)
    net = SmallCnn().eval()
    exported = os.path.join(folder, "small.pt")
    torch.jit.script(net).save(exported)
    for command, extra, tables in (("ood", [], ["ood_scores.csv"]),
                                   ("gradients", ["--probe-size", "100"], ["gradients.csv", "filters.csv"])):
        cli_out = os.path.join(folder, f"cli-{command}")
        r = subprocess.run([args.filterscope, command, exported, "--dataset", "npy", "--data-dir", data, "--val-size", "0",
                            "--threads", "1", "--quiet", "--out", cli_out, *extra], capture_output=True, text=True)
        check(r.returncode == 0, f"CLI {command}: {r.stderr.strip()[-300:]}")
        kwargs = {"threads": 1}
        if extra:
            kwargs["probe_size"] = 100
        result = getattr(fsc, command)(net, (x, y), (tx, ty), out=os.path.join(folder, f"py-{command}"), **kwargs)
        for t in tables:
            with open(os.path.join(cli_out, t), "rb") as a, open(os.path.join(result.out, t), "rb") as b:
                check(a.read() == b.read(), f"{command}: {t} from Python differs from the CLI's")
        check(result.tables, f"{command}: no tables read back")
    a = fsc.activations(net, (x, y), (tx, ty), out=os.path.join(folder, "py-activations"), threads=1)
    check(a.record.get("format", "").startswith("filterscope-activations"), f"activations record {list(a.record)[:5]}")
    v = fsc.visualize(net, (x, y), (tx, ty), out=os.path.join(folder, "py-visualize"), parts="am", steps=8, threads=1)
    check(any(t.dim() == 4 for t in v.arrays.values()), f"visualize: no pictures among {list(v.arrays)}")
    hr = fsc.hierarchy(net, (x, y), (tx, ty), out=os.path.join(folder, "py-hierarchy"), threads=1)
    check("representatives" in hr.arrays, f"hierarchy arrays {list(hr.arrays)}")
    raises(ValueError, "images must be uint8 pixels", lambda: fsc.ood(net, (x.float(), y), (tx.float(), ty),
                                                                      out=os.path.join(folder, "x")))
    print("ood and gradients from Python equal the CLI's tables; activations, visualize and hierarchy run on a live module")


def check_no_validation(fsc, args, workdir):
    """A loop without a validation set: the run says NaN for validation, and `overfit` gives every
    signal's stopping epoch with no oracle to score it against (CLI and Python)."""
    torch.manual_seed(4)
    (x, y), _ = fashion(200, 0, seed=7)
    net = SmallCnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    run = os.path.join(workdir, "no-validation")
    shutil.rmtree(run, ignore_errors=True)
    with fsc.Monitor(run, net, (x, y), optimizer=opt, quiet=True) as m:
        for epoch in range(1, 4):
            for start in range(0, 200, 50):
                idx = torch.arange(start, start + 50)
                out = net(x[idx])
                loss = F.cross_entropy(out, y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                m.on_batch(idx, out, y[idx], loss)
            row = m.on_epoch_end(epoch)
            check(np.isnan(row["val_loss"]) and np.isnan(row["val_acc"]), f"epoch {epoch}: validation {row}")
    r = subprocess.run([args.filterscope, "overfit", run, "--signals", "label_wave,gsnr,weight_alpha,train_loss",
                        "--signal-samples", "32"], capture_output=True, text=True)
    check(r.returncode == 0 and "no validation set" in r.stdout, f"overfit without validation: {r.returncode} {r.stderr[-200:]}")
    o = fsc.overfit(run, signals="label_wave,gsnr,weight_alpha,train_loss", signal_samples=32)
    check(o.oracle is None and not o.record["has_validation"], f"oracle {o.oracle}")
    check(all(p > 0 for p in o.signals["predicted_epoch"]), f"predicted epochs {list(o.signals['predicted_epoch'])}")
    check(o.signals["val_acc_at_predicted"].isna().all(), "accuracy at the predicted epoch without a validation set")
    check(subprocess.run([args.filterscope, "report", run], capture_output=True).returncode == 0,
          "report on a run without a validation set")


def check_abi(fsc):
    a = fsc.abi()
    check(a["module"]["glibcxx_use_cxx11_abi"] == a["torch"]["glibcxx_use_cxx11_abi"], f"C++ string ABI differs: {a}")
    check(a["module"]["pybind11_build_abi"] == a["torch"]["pybind11_build_abi"], f"pybind11 build ABI differs: {a}")
    check(a["module"]["torch_version"] == a["torch"]["torch_version"].split("a")[0].split("+")[0], f"torch versions: {a}")
    internals = [k for k in vars(builtins) if k.startswith("__pybind11_internals")]
    check(internals == [a["module"]["pybind11_internals_id"]],
          f"pybind11 internals: builtins hold {internals}, the module uses {a['module']['pybind11_internals_id']}")


def check_errors(fsc, args, images, labels, workdir):
    net = SmallCnn().eval()
    data = (images[:40], labels[:40])
    raises(ValueError, "unknown keyword probe_sise", lambda: fsc.analyze(net, data, probe_sise=10))
    raises(ValueError, "--kmin (6) must not exceed --kmax", lambda: fsc.analyze(net, data, kmin=6, kmax=3))
    raises(ValueError, "--probe-size must be in [3, 1000000000], got 1", lambda: fsc.analyze(net, data, probe_size=1))
    raises(ValueError, "probe_size", lambda: fsc.analyze(net, data, probe_size="many"))
    raises(ValueError, "split: the data given is the probe set's pool", lambda: fsc.analyze(net, data, split="train"))
    raises(TypeError, "model: expected a torch.nn.Module", lambda: fsc.analyze("model.pt", data))
    raises(TypeError, "data: expected a torch Dataset", lambda: fsc.analyze(net, images[:40]))
    raises(ValueError, "40 images need 40 labels", lambda: fsc.analyze(net, (images[:40], labels[:30])))
    mlp = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    raises(fsc.Error, "no convolution", lambda: fsc.analyze(mlp, data, probe_size=20))
    run = os.path.join(workdir, "errors-run")
    shutil.rmtree(run, ignore_errors=True)
    m = fsc.Monitor(run, net, data, quiet=True, signals="none")
    raises(fsc.Error, "no batch was reported", lambda: m.on_epoch_end(1))
    idx = torch.arange(8)
    raises(fsc.Error, "logits must be [8, 10]", lambda: m.on_batch(idx, torch.zeros(8, 3), labels[:8], 1.0))
    raises(TypeError, "indices must be a tensor", lambda: m.on_batch([0, 1], torch.zeros(2, 10), labels[:2], 1.0))
    m.on_batch(idx, torch.zeros(8, 10), labels[:8], 2.3)
    raises(fsc.Error, "the next epoch is 1", lambda: m.on_epoch_end(2))
    m.on_epoch_end(1)
    raises(fsc.Error, "the next epoch is 2", lambda: m.on_epoch_end(1))
    check(not os.path.exists(os.path.join(run, "checkpoints", "epoch-002.pt")), "a refused epoch wrote a checkpoint")
    m.close()
    raises(fsc.Error, "was closed", lambda: m.on_batch(idx, torch.zeros(8, 10), labels[:8], 1.0))
    raises(fsc.Error, "already holds a run", lambda: fsc.Monitor(run, net, data, quiet=True))
    # A batch whose contents are wrong is found at the next weight record or the epoch's end: the
    # error names its step, nothing of the epoch is written, and the monitor stops.
    bad_batches = (({"labels": (labels[8:16] + 1) % 10}, "differs from train_set's"),
                   ({"indices": torch.arange(35, 43)}, "is outside train_set's 40 samples"),
                   ({"logits": torch.full((8, 10), float("nan"))}, "the logits hold NaN or infinite values"))
    for bad, what in bad_batches:
        folder = os.path.join(workdir, "bad-batch")
        shutil.rmtree(folder, ignore_errors=True)
        mb = fsc.Monitor(folder, net, data, quiet=True, signals="none", log_every=100)  # no record mid-epoch
        mb.on_batch(torch.arange(8), torch.zeros(8, 10), labels[:8], 1.0)
        step = {"indices": torch.arange(8, 16), "logits": torch.zeros(8, 10), "labels": labels[8:16]}
        step.update(bad)
        mb.on_batch(step["indices"], step["logits"], step["labels"], 1.0)
        message = raises(fsc.Error, what, lambda: mb.on_epoch_end(1))
        check(message is not None and "on_batch (step 2 of epoch 1)" in message, f"the error {message!r} names no step")
        check(not os.path.exists(os.path.join(folder, "checkpoints", "epoch-001.pt")), "a bad batch's epoch wrote a checkpoint")
        raises(fsc.Error, "stopped at a bad batch", lambda: mb.on_batch(torch.arange(8), torch.zeros(8, 10), labels[:8], 1.0))
    refused = [os.path.join(workdir, "refused-loader"), os.path.join(workdir, "refused-signal")]
    for folder in refused:
        shutil.rmtree(folder, ignore_errors=True)
    raises(TypeError, "give the Dataset", lambda: fsc.Monitor(refused[0], net,
                                                              torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*data))))
    raises(ValueError, "unknown signal 'wave'", lambda: fsc.Monitor(refused[1], net, data, signals="wave"))
    for folder in refused:
        check(not os.path.exists(folder), f"a refused Monitor left {folder} behind")
    # The default alarm in a loop that keeps no per-sample records: it trains, with the alarm's
    # reason to be off (every live signal reads those records) or with the alarm.
    live = [s["name"] for s in fsc.signals() if s["live"]]
    quiet_run = os.path.join(workdir, "no-sample-records")
    shutil.rmtree(quiet_run, ignore_errors=True)
    m = fsc.Monitor(quiet_run, net, data, quiet=True, sample_log=False)
    note = m._native.alarm_off
    for epoch in (1, 2):
        m.on_batch(torch.arange(40), net(images[:40]).detach(), labels[:40], 2.3)
        m.on_epoch_end(epoch)
    m.close()
    wrote = os.path.exists(os.path.join(quiet_run, "overfit.json"))
    check(wrote == (note == ""), f"sample_log=False: alarm note {note!r} but overfit.json written: {wrote}")
    check(note == "" or all(n in note for n in live), f"the note {note!r} does not name the live set {live}")
    check(fsc.cli(["overfit", "--signals", "nothing", run]) == 2, "cli exit code for a bad flag value")


def train_monitored(fsc, args, workdir):
    """A user's loop with the monitor; returns the run and what the loop itself saw."""
    torch.manual_seed(0)
    (x, y), (vx, vy) = fashion(600, 300, seed=1)
    rng = np.random.default_rng(2)
    noisy = np.sort(rng.choice(len(y), 120, replace=False))
    original = y[noisy].clone()
    y = y.clone()
    y[noisy] = (y[noisy] + torch.from_numpy(rng.integers(1, 10, len(noisy)))) % 10
    net = SmallCnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    run = os.path.join(workdir, "monitored")
    shutil.rmtree(run, ignore_errors=True)
    train_set = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(fsc.IndexedDataset(train_set), batch_size=50, shuffle=True,
                                         generator=torch.Generator().manual_seed(3))
    epochs = 6
    seen_logits = []
    weights = []
    with fsc.Monitor(run, net, train_set, (vx, vy), optimizer=opt, epochs=epochs, label_noise=(noisy, original),
                     class_names=[f"c{c}" for c in range(10)], log_every=4, quiet=True) as monitor:
        for epoch in range(1, epochs + 1):
            net.train()
            logits_of = torch.zeros(len(y), 10)
            for idx, xb, yb in loader:
                out = net(xb)
                loss = F.cross_entropy(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                monitor.on_batch(idx, out, yb, loss)
                logits_of[idx] = out.detach()
            seen_logits.append(logits_of)
            weights.append({k: v.detach().clone() for k, v in net.state_dict().items()})
            monitor.on_epoch_end(epoch)
    return run, net, (x, y), (vx, vy), noisy, seen_logits, weights


def check_monitored(fsc, args, run, net, train, val, noisy, seen_logits, weights):
    x, y = train
    vx, vy = val
    epochs = len(seen_logits)
    for e in range(1, epochs + 1):
        with open(os.path.join(run, "samples", f"epoch-{e:03d}.csv")) as f:
            rows = list(csv.DictReader(f))
        z = seen_logits[e - 1].double().numpy()
        yy = y.numpy()
        own = z[np.arange(len(yy)), yy]
        lse = np.log(np.exp(z - z.max(1, keepdims=True)).sum(1)) + z.max(1)
        other = z.copy()
        other[np.arange(len(yy)), yy] = -np.inf
        loss = np.array([float(r["loss"]) for r in rows])
        margin = np.array([float(r["margin"]) for r in rows])
        pred = np.array([int(r["prediction"]) for r in rows])
        check(np.allclose(loss, lse - own, rtol=1e-6, atol=1e-6), f"epoch {e}: per-sample loss differs from NumPy's")
        check(np.allclose(margin, own - other.max(1), rtol=1e-6, atol=1e-6), f"epoch {e}: margins differ")
        check(np.array_equal(pred, z.argmax(1)), f"epoch {e}: predictions differ")
    with open(os.path.join(run, "metrics.csv")) as f:
        metrics = list(csv.DictReader(f))
    check(len(metrics) == epochs, f"{len(metrics)} metrics rows")
    last = torch.jit.load(os.path.join(run, "checkpoints", f"epoch-{epochs:03d}.pt")).eval()
    with torch.no_grad():
        val_loss = F.cross_entropy(last(vx), vy).item()
        val_acc = (last(vx).argmax(1) == vy).double().mean().item()
    check(abs(float(metrics[-1]["val_loss"]) - val_loss) < 1e-5, f"val loss {metrics[-1]['val_loss']} vs PyTorch {val_loss}")
    check(abs(float(metrics[-1]["val_acc"]) - val_acc) < 1e-9, f"val acc {metrics[-1]['val_acc']} vs {val_acc}")
    # The checkpoint holds the loop's weights at that epoch's end.
    for name, w in weights[-1].items():
        check(torch.equal(dict(last.named_parameters())[name], w), f"checkpoint's {name} differs from the loop's")
    # run.sqlite: epoch-end weight statistics against the weights the loop held.
    db = sqlite3.connect(f"file:{os.path.join(run, 'run.sqlite')}?mode=ro", uri=True)
    layers = {row[0]: row[1] for row in db.execute("SELECT layer, name FROM layers")}
    check(sorted(layers.values()) == ["conv1", "conv2", "fc"], f"run log layers {layers}")
    steps = db.execute("SELECT value FROM meta WHERE key = 'steps_per_epoch'").fetchone()[0]
    for e in (1, epochs):
        iteration = e * int(steps)
        for layer, name in layers.items():
            w = weights[e - 1][name + ".weight"].double().flatten(1)
            got = np.array(db.execute("SELECT norm, mean, std FROM unit_stats WHERE layer = ? AND iteration = ? ORDER BY unit",
                                      (layer, iteration)).fetchall())
            want = np.stack([w.norm(dim=1).numpy(), w.mean(1).numpy(), w.std(1, unbiased=False).numpy()], 1)
            check(got.shape == want.shape and np.allclose(got, want, rtol=1e-5, atol=1e-7),
                  f"run.sqlite weight statistics of {name} at epoch {e} differ from the loop's weights")
    outcomes = db.execute("SELECT COUNT(*) FROM val_outcomes").fetchone()[0]
    check(outcomes == epochs * len(vy), f"{outcomes} validation outcomes")
    db.close()

    # Every command that takes a run takes this one.
    fs = args.filterscope
    for command in (["track", run, "--split", "train", "--probe-size", "150", "--threads", "2"],
                    ["overfit", run, "--threads", "2", "--signal-samples", "64"],
                    ["clean", run], ["report", run],
                    ["study", run, "--out", os.path.join(os.path.dirname(run), "study")]):
        r = subprocess.run([fs, *command, "--quiet"] if command[0] not in ("report", "study") else [fs, *command],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"filterscope {command[0]} on the monitored run: exit {r.returncode}: {r.stderr.strip()[-300:]}")
    with open(os.path.join(run, "clean.json")) as f:
        clean = json.load(f)
    # AUM in clean.csv: minus the mean margin over epochs 1..listed epoch.
    with open(os.path.join(run, "clean.csv")) as f:
        rows = list(csv.DictReader(f))
    listed = clean["listed_epoch"]
    margins = []
    for e in range(1, listed + 1):
        with open(os.path.join(run, "samples", f"epoch-{e:03d}.csv")) as f:
            margins.append([float(r["margin"]) for r in csv.DictReader(f)])
    aum = -np.mean(np.array(margins), axis=0)
    check(np.allclose([float(r["aum"]) for r in rows], aum, rtol=1e-8, atol=1e-8), "clean.csv's aum is not minus the mean margin")
    check(clean["replaced_labels"] == len(noisy), f"clean saw {clean['replaced_labels']} replaced labels, {len(noisy)} were")
    aurocs = {d["name"]: d["auroc"] for d in clean["evaluations"][0]["detectors"]}
    check(aurocs.get("aum", 0) > 0.6, f"AUM's AUROC on the monitored run: {aurocs}")
    check("trained outside filterscope" in clean.get("confident_learning", {}).get("note", ""),
          f"confident learning on a monitored run: {clean.get('confident_learning')}")
    o = fsc.overfit(run, signal_samples=64)
    check(set(o.signals["name"]) >= {"label_wave", "gsnr", "weight_alpha", "anomaly_count"}, f"overfit signals {list(o.signals['name'])}")
    check(o.oracle is not None and 1 <= o.oracle["epoch"] <= epochs, f"oracle {o.oracle}")
    check(os.path.exists(os.path.join(run, "report.html")), "no report.html")
    print(f"monitored run: {epochs} epochs, per-sample records, weights, metrics agree; track, overfit, clean "
          f"(AUM AUROC {aurocs.get('aum', float('nan')):.3f}), report and study accept it")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True)
    ap.add_argument("--filterscope", required=True)
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    sys.path.insert(0, args.package)
    import filterscope as fsc
    torch.set_num_threads(2)

    check_abi(fsc)
    (x, y), _ = fashion(300, 0, seed=5)
    check_errors(fsc, args, x, y, args.workdir)
    check_model_commands(fsc, args, args.workdir)
    check_no_validation(fsc, args, args.workdir)

    # A built-in network (simple-cnn trained two epochs by `filterscope train`), rebuilt in PyTorch.
    run = os.path.join(args.workdir, "builtin-run")
    if not os.path.exists(os.path.join(run, "checkpoints", "epoch-002.pt")):
        shutil.rmtree(run, ignore_errors=True)
        subprocess.run([args.filterscope, "train", "--train-size", "1000", "--val-size", "200", "--epochs", "2",
                        "--quiet", "--signals", "none", "--out", run], check=True, stdout=subprocess.DEVNULL)
    net, run_json, _ = load_checkpoint_network(run, 2)
    norm = run_json["dataset"]["normalisation"]
    test = read_idx(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz"))[:300]
    test_y = torch.from_numpy(read_idx(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz"), images=False)[:300])
    images = torch.from_numpy((test.astype(np.float32) / np.float32(255) - np.float32(norm["mean"][0])) / np.float32(norm["std"][0]))
    compare_with_cli(fsc, args, "simple-cnn", net, images, test_y, 300, args.workdir, ("--small-cluster", "0.03"))

    # torchvision's ResNet-18, random weights, one input channel.
    import torchvision
    torch.manual_seed(0)
    resnet = torchvision.models.resnet18(num_classes=10)
    resnet.conv1 = nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    resnet.eval()
    compare_with_cli(fsc, args, "resnet18", resnet, images[:64], test_y[:64], 64, args.workdir, ("--layers", "conv"))

    monitored = train_monitored(fsc, args, args.workdir)
    check_monitored(fsc, args, *monitored)

    if problems:
        print(f"{len(problems)} problem(s)")
        sys.exit(1)
    print("the Python package agrees with the CLI and with the independent computations")


if __name__ == "__main__":
    main()
