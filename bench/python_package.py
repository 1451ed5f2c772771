#!/usr/bin/env python3
"""The Python package's costs (bench/RESULTS.md, "The Python package"), measured in one run:

  monitor   a simple-cnn (the built-in network, in PyTorch) trained on 2,000 Fashion-MNIST images, batch
            32, 3 epochs, one thread: seconds per training step without the monitor, with it (default:
            weights logged 4 times an epoch, per-sample records, validation of 500 images at each
            epoch's end, live alarm "live"), with log_every = one epoch and no alarm ("relaxed"), and
            the default without a val_set ("no-val": the loop validates on its own, or not at all).
            For each: everything (epoch ends included, spread over the steps) as a share of a step;
            on_batch per call (median and mean of its calls, the first apart: it opens the run log; the
            mean includes the calls that check the batches held since the last check) as a share of
            the median step; and the epoch end's seconds. One untimed run warms up first.
  analyze   `filterscope analyze` of the same network exported to TorchScript on 500 images (an npy
            dataset) as a process, against filterscope.analyze on the live module in this process: whole
            seconds, and the peak memory of each (the process's max RSS; the Python side's growth).
Each figure is the min / median / max of --repeat runs (default 3), interleaved.

  python_package.py --package BUILD/python --filterscope BIN [--repeat 3] [--workdir DIR]
"""
import argparse
import gzip
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "models"))
from export_torchscript import builtin_network  # noqa: E402


def read_idx(path, images=True):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if images:
        return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def data():
    root = "/usr/share/datasets/fashion-mnist"
    x = read_idx(f"{root}/train-images-idx3-ubyte.gz")[:2500]
    y = read_idx(f"{root}/train-labels-idx1-ubyte.gz", False)[:2500]
    x = torch.from_numpy((x.astype(np.float32) / 255 - 0.286) / 0.353)
    y = torch.from_numpy(y)
    return (x[:2000], y[:2000]), (x[2000:], y[2000:])


def train(fsc, mode, workdir, seed=0):
    """Seconds per step (whole loop), on_batch's seconds per call (all calls) and on_epoch_end's."""
    torch.manual_seed(seed)
    (x, y), (vx, vy) = data()
    net = builtin_network("simple-cnn", 1, 10, 28)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    train_set = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(fsc.IndexedDataset(train_set), batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    monitor = None
    if mode != "none":
        run = os.path.join(workdir, f"run-{mode}-{time.monotonic_ns()}")
        kwargs = dict(log_every=63, signals="none") if mode == "relaxed" else {}
        monitor = fsc.Monitor(run, net, train_set, None if mode == "no-val" else (vx, vy), optimizer=opt,
                              quiet=True, **kwargs)
    steps = 0
    calls, ends = [], []
    start = time.perf_counter()
    for epoch in range(1, 4):
        net.train()
        for idx, xb, yb in loader:
            logits = net(xb)
            loss = F.cross_entropy(logits, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if monitor:
                t = time.perf_counter()
                monitor.on_batch(idx, logits, yb, loss)
                calls.append(time.perf_counter() - t)
            steps += 1
        if monitor:
            t = time.perf_counter()
            monitor.on_epoch_end(epoch)
            ends.append(time.perf_counter() - t)
    if monitor:
        monitor.close()
    return (time.perf_counter() - start) / steps, calls, ends


def max_rss_mib(usage):
    return usage.ru_maxrss / 1024


def spread(values, fmt="{:.3f}"):
    return f"{fmt.format(min(values))} / {fmt.format(statistics.median(values))} / {fmt.format(max(values))}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True)
    ap.add_argument("--filterscope", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None)
    args = ap.parse_args()
    sys.path.insert(0, args.package)
    import filterscope as fsc
    torch.set_num_threads(1)
    workdir = args.workdir or tempfile.mkdtemp(prefix="filterscope-bench-")
    os.makedirs(workdir, exist_ok=True)

    modes = ("default", "relaxed", "no-val")
    steps = {m: [] for m in ("none",) + modes}
    per_call = {m: [] for m in modes}
    mean_call = {m: [] for m in modes}  # the checks' passes (every weight record, 64 batches) included
    first_call = {m: [] for m in modes}
    epoch_end = {m: [] for m in modes}
    train(fsc, "default", workdir, seed=99)  # warm-up: the first run pays for the process's first calls
    for r in range(args.repeat):
        for mode in ("none",) + modes:
            step, calls, ends = train(fsc, mode, workdir, seed=r)
            steps[mode].append(step)
            if mode != "none":
                per_call[mode].append(statistics.median(calls[1:]))
                mean_call[mode].append(statistics.fmean(calls[1:]))
                first_call[mode].append(calls[0])
                epoch_end[mode].append(statistics.median(ends))
    base = statistics.median(steps["none"])
    print("## monitor: seconds per training step (simple-cnn, batch 32, 2,000 images, 3 epochs, 1 thread)")
    print(f"- without the monitor: {spread([1e3 * s for s in steps['none']], '{:.2f}')} ms per step")
    for mode in modes:
        share = [100 * (s / base - 1) for s in steps[mode]]
        own = [100 * c / base for c in per_call[mode]]
        print(f"- {mode}: {spread([1e3 * s for s in steps[mode]], '{:.2f}')} ms per step, everything "
              f"{spread(share, '{:+.1f}')} % of the median bare step; on_batch per call "
              f"{spread([1e6 * c for c in per_call[mode]], '{:.0f}')} us = {spread(own, '{:.2f}')} % of a step, "
              f"mean {spread([1e6 * c for c in mean_call[mode]], '{:.0f}')} us = "
              f"{spread([100 * c / base for c in mean_call[mode]], '{:.2f}')} % "
              f"(first call {spread([1e3 * c for c in first_call[mode]], '{:.1f}')} ms); on_epoch_end "
              f"{spread([1e3 * e for e in epoch_end[mode]], '{:.0f}')} ms")

    # analyze: the CLI as a process against the in-process call.
    (x, y), _ = data()
    images, labels = x[:500], y[:500]
    net = builtin_network("simple-cnn", 1, 10, 28).eval()
    folder = os.path.join(workdir, "analyze")
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(os.path.join(folder, "data"))
    for split in ("train", "test"):
        np.save(os.path.join(folder, "data", f"{split}-images.npy"), images.numpy())
        np.save(os.path.join(folder, "data", f"{split}-labels.npy"), labels.numpy())
    model = os.path.join(folder, "simple-cnn.pt")
    torch.jit.script(net).save(model)
    cli, py, cli_rss = [], [], []
    rss_before = max_rss_mib(resource.getrusage(resource.RUSAGE_SELF))
    for r in range(args.repeat):
        start = time.perf_counter()
        subprocess.run([args.filterscope, "analyze", model, "--dataset", "npy", "--data-dir", os.path.join(folder, "data"),
                        "--split", "val", "--val-size", "0", "--probe-size", "500", "--threads", "1", "--quiet",
                        "--out", os.path.join(folder, f"cli-{r}")], check=True, stdout=subprocess.DEVNULL)
        cli.append(time.perf_counter() - start)
        cli_rss.append(max_rss_mib(resource.getrusage(resource.RUSAGE_CHILDREN)))
        start = time.perf_counter()
        fsc.analyze(net, (images, labels), probe_size=500, threads=1).save(os.path.join(folder, f"python-{r}"))
        py.append(time.perf_counter() - start)
    rss_after = max_rss_mib(resource.getrusage(resource.RUSAGE_SELF))
    print("## analyze: simple-cnn, 500 images, 1 thread, whole call")
    print(f"- CLI process: {spread(cli)} s, max RSS {max(cli_rss):.0f} MiB")
    print(f"- filterscope.analyze in Python: {spread(py)} s (the CLI {spread([c / p for c, p in zip(cli, py)], '{:.2f}')}x "
          f"as long); this process's max RSS {rss_before:.0f} MiB before, {rss_after:.0f} MiB after")


if __name__ == "__main__":
    main()
