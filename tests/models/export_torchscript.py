#!/usr/bin/env python3
"""Exports TorchScript models for filterscope's tests, the way a PyTorch user brings a model.

  export_torchscript.py checkpoint RUN_DIR EPOCH OUT [--trace]
      the built-in network of a filterscope run, rebuilt in PyTorch with the checkpoint's weights;
      the run's input normalisation and data settings go into the extra file filterscope.json
  export_torchscript.py resnet18 OUT [--in-channels 1] [--classes 10]
      torchvision's ResNet-18 (random weights, seed 0, first convolution for 1-channel images)
  export_torchscript.py resnet50 OUT [--in-channels 1] [--classes 10]
      the same with ResNet-50 (the MPI benchmark's large model, bench/run_mpi_bench.sh)
  export_torchscript.py efficientnet_b0 OUT / mobilenet_v2 OUT
      torchvision's EfficientNet-B0 (SiLU, sigmoid, adaptive average pools) and MobileNet-V2
      (ReLU6) with random weights (seed 0), 3 input channels, 10 classes
  export_torchscript.py mlp OUT
      a model with no convolution
  export_torchscript.py functional OUT
      a small CNN that calls F.relu / F.max_pool2d in forward instead of holding modules
  export_torchscript.py convonly OUT
      convolutions and global average pooling only, no fully connected layer

The network definitions below mirror src/filterscope/models/network.cpp layer for layer.
"""
import argparse
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def builtin_network(name, in_channels, num_classes, input_size):
    if name == "simple-cnn":
        features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(64, 64, 3), nn.ReLU())
        avgpool = None
    elif name == "lenet5":
        features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2))
        avgpool = None
    elif name == "alexnet":
        features = nn.Sequential(
            nn.Conv2d(in_channels, 64, 11, stride=4, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2))
        avgpool = nn.AdaptiveAvgPool2d(6)
    else:
        raise SystemExit(f"unknown network {name}")
    with torch.no_grad():
        out = features(torch.zeros(1, in_channels, input_size, input_size))
        if avgpool is not None:
            out = avgpool(out)
    flat = out.numel()
    if name == "simple-cnn":
        classifier = nn.Sequential(nn.Linear(flat, 64), nn.ReLU(), nn.Linear(64, num_classes))
    elif name == "lenet5":
        classifier = nn.Sequential(nn.Linear(flat, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                   nn.Linear(84, num_classes))
    else:
        classifier = nn.Sequential(nn.Dropout(0.5), nn.Linear(flat, 4096), nn.ReLU(), nn.Dropout(0.5),
                                   nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, num_classes))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = features
            self.avgpool = avgpool if avgpool is not None else nn.Identity()
            self.classifier = classifier

        def forward(self, x):
            return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))

    return Net()


def load_checkpoint_network(run_dir, epoch):
    """The run's network in PyTorch with the weights of checkpoint EPOCH, plus run.json."""
    with open(os.path.join(run_dir, "run.json")) as f:
        run = json.load(f)
    archive = torch.jit.load(os.path.join(run_dir, "checkpoints", f"epoch-{epoch:03d}.pt"))
    meta = json.loads(archive.filterscope)
    net = builtin_network(meta["network"], meta["in_channels"], meta["num_classes"], meta["input_size"])
    state = {name[len("model."):]: p for name, p in archive.named_parameters() if name.startswith("model.")}
    net.load_state_dict(state, strict=True)
    return net.eval(), run, meta


# The module classes whose outputs are probe points (filterscope's ProbeKind).
PROBE_MODULES = (nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.AdaptiveMaxPool2d, nn.ReLU6, nn.Hardtanh, nn.LeakyReLU,
                 nn.SiLU, nn.GELU, nn.Hardswish, nn.Hardsigmoid, nn.Sigmoid, nn.Tanh, nn.AvgPool2d,
                 nn.AdaptiveAvgPool2d, nn.Linear)


def write_reference(net, in_channels, size, prefix):
    """Probe outputs of two fixed images taken by forward hooks on every probe module (a module
    called twice gets "@2"), the logits, and PyTorch autograd's gradient of the first logit's sum
    with respect to the input: the answers filterscope's graph capture and differentiable probes
    must give. Files PREFIX.input.npy, PREFIX.logits.npy, PREFIX.input_grad.npy, PREFIX.<probe>.npy,
    PREFIX.names."""
    import numpy as np
    got = {}

    def hook(name):
        def record(module, inputs, output):
            key = name
            n = 2
            while key in got:
                key = f"{name}@{n}"
                n += 1
            got[key] = output.detach().clone()
        return record

    for name, module in net.named_modules():
        if isinstance(module, PROBE_MODULES):
            module.register_forward_hook(hook(name))
    x = torch.linspace(-2, 2, 2 * in_channels * size * size).reshape(2, in_channels, size, size)
    xg = x.clone().requires_grad_(True)
    net(xg)[:, 0].sum().backward()
    got.clear()
    with torch.no_grad():
        logits = net(x)
    np.save(prefix + ".input.npy", x.numpy())
    np.save(prefix + ".logits.npy", logits.numpy())
    np.save(prefix + ".input_grad.npy", xg.grad.numpy())
    for key, value in got.items():
        np.save(f"{prefix}.{key}.npy", value.numpy())
    with open(prefix + ".names", "w") as f:
        f.write("\n".join(got) + "\n")


def save(module, out, extra=None):
    files = {"filterscope.json": json.dumps(extra)} if extra else {}
    tmp = out + ".tmp"
    torch.jit.save(module, tmp, _extra_files=files)
    os.replace(tmp, out)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="what", required=True)
    c = sub.add_parser("checkpoint")
    c.add_argument("run_dir")
    c.add_argument("epoch", type=int)
    c.add_argument("out")
    c.add_argument("--trace", action="store_true", help="torch.jit.trace instead of torch.jit.script")
    resnets = [sub.add_parser(arch) for arch in ("resnet18", "resnet50")]
    for r in resnets:
        r.add_argument("out")
        r.add_argument("--in-channels", type=int, default=1)
        r.add_argument("--classes", type=int, default=10)
    vision = {}
    for arch in ("efficientnet_b0", "mobilenet_v2"):
        vision[arch] = sub.add_parser(arch)
        vision[arch].add_argument("out")
    m = sub.add_parser("mlp")
    m.add_argument("out")
    f = sub.add_parser("functional")
    f.add_argument("out")
    co = sub.add_parser("convonly", help="convolutions only: global average pooling gives the 10 logits")
    co.add_argument("out")
    for p in (*resnets, m, f, co, *vision.values()):
        p.add_argument("--reference", help="also write hook outputs of two fixed images under this prefix")
    args = parser.parse_args()
    torch.manual_seed(0)

    if args.what == "checkpoint":
        net, run, meta = load_checkpoint_network(args.run_dir, args.epoch)
        size = meta["input_size"]
        example = torch.zeros(2, meta["in_channels"], size, size)
        module = torch.jit.trace(net, example) if args.trace else torch.jit.script(net)
        norm = run["dataset"]["normalisation"]
        save(module, args.out, {"format": "filterscope-torchscript-1", "input_size": size,
                                "mean": norm["mean"], "std": norm["std"]})
    elif args.what in ("resnet18", "resnet50"):
        import torchvision
        net = getattr(torchvision.models, args.what)(num_classes=args.classes)
        net.conv1 = nn.Conv2d(args.in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        net.eval()
        save(torch.jit.script(net), args.out)
        if args.reference:
            write_reference(net, args.in_channels, 28, args.reference)
    elif args.what in ("efficientnet_b0", "mobilenet_v2"):
        import torchvision
        net = getattr(torchvision.models, args.what)(num_classes=10).eval()
        save(torch.jit.script(net), args.out)
        if args.reference:
            write_reference(net, 3, 32, args.reference)
    elif args.what == "mlp":
        net = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 32), nn.ReLU(), nn.Linear(32, 10))
        save(torch.jit.script(net.eval()), args.out)
        if args.reference:
            open(args.reference + ".names", "w").close()
    elif args.what == "convonly":
        net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 10, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                            nn.Flatten())
        save(torch.jit.script(net.eval()), args.out)
    else:
        class Functional(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv1 = nn.Conv2d(1, 8, 3)
                self.conv2 = nn.Conv2d(8, 8, 3)
                self.fc = nn.Linear(8 * 5 * 5, 10)

            def forward(self, x):
                x = F.max_pool2d(F.relu(self.conv1(x)), 2)
                x = F.max_pool2d(F.relu(self.conv2(x)), 2)
                return self.fc(torch.flatten(x, 1))

        net = Functional().eval()
        save(torch.jit.script(net), args.out)
        if args.reference:
            write_reference(net, 1, 28, args.reference)


if __name__ == "__main__":
    main()
