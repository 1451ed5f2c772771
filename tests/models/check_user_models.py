#!/usr/bin/env python3
"""Every command that takes a model, on models a PyTorch user brings, checked against PyTorch.

make_user_models.py writes a folder of 3-channel PNG images and two TorchScript files made outside
the project: a small CNN with batch norm and in-place ReLUs trained here (scripted) and torchvision's
ResNet-18 with random weights (traced). Each goes through analyze, gradients, mask, ood, activations,
visualize and hierarchy with `--dataset folder`. The reference side is the eager PyTorch module with
the file's weights (state_dict), forward hooks where an intermediate output is needed, and the
images read with PIL. Required, per model:
  * analyze: every convolution PyTorch's module tree has is analysed, with its output shape and
    per filter the mean |activation| over the probe images (1e-4 relative);
  * gradients: each sample's mean |d loss / d parameter| per layer and overall (1e-3 relative);
  * mask: train and validation accuracy before masking and with every anomaly filter masked at
    once (the filters' weights and biases zeroed in PyTorch) are equal;
  * ood: MSP, maximum logit, energy and ODIN (one signed-gradient step, tempered softmax) of the
    in-distribution images (1e-4 relative), and ODIN's step: the score less the tempered softmax of
    the unmoved image, PyTorch's within 5 % of the largest move and positive;
  * activations: the S1 frequencies (share of a class's images in which a neuron's mean output is
    positive) of the last ReLU equal the hooked outputs' (exactly, with ties at zero excluded);
  * visualize: Grad-CAM at the command's layer equals autograd's (1e-4 of the largest value), and
    the saved activation-maximisation images and starts, re-run through the model, give the
    logits visualize.json reports, the objective higher after than before, and am_grid.png,
    decoded by PIL, is those images in their grid (the PNG encoder, to one byte);
  * hierarchy: the class representatives (mean output of the layer over each class's images) equal
    the hooked means (1e-4 relative).

  check_user_models.py --filterscope BIN --workdir DIR
"""
import argparse
import csv
import json
import os
import subprocess
import sys

import numpy as np
import torch
import torchvision
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_user_models as um  # noqa: E402

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / max(1e-12, np.abs(b).max()))


def eager(kind, path):
    net = um.SmallCnn() if kind == "small_cnn" else torchvision.models.resnet18(num_classes=len(um.CLASSES))
    net.load_state_dict(torch.jit.load(path).state_dict())
    return net.eval()


class Hooks:
    """Outputs of probe points by filterscope's names: "layer1.0.relu@2" is the module's second call."""

    def __init__(self, net, names):
        self.out, self.calls, self.handles = {}, {}, []
        modules = dict(net.named_modules())
        for name in names:
            path, _, nth = name.partition("@")
            self.handles.append(modules[path].register_forward_hook(self.hook(name, path, int(nth or 1))))

    def hook(self, name, path, nth):
        def f(module, inputs, output):
            self.calls[(name, path)] = self.calls.get((name, path), 0) + 1
            if self.calls[(name, path)] == nth:
                self.out[name] = output if output.requires_grad else output.clone()
        return f

    def run(self, net, x):
        self.out, self.calls = {}, {}
        return net(x)

    def close(self):
        for h in self.handles:
            h.remove()


def run(bin_, args):
    subprocess.run([bin_] + args + ["--quiet", "--threads", "1"], check=True, stdout=subprocess.DEVNULL)


def check_model(bin_, workdir, kind, data, test_x, test_y, train_x, train_y):
    model = os.path.join(workdir, kind + ".pt")
    out = os.path.join(workdir, kind)
    net = eager(kind, model)
    flags = ["--dataset", "folder", "--data-dir", data, "--val-size", "0"]
    # ResNet-18's analysis keeps to four probe points of each kind (the stem, a block's convolution, a
    # shortcut's, a second call of a ReLU module): masking hundreds of random-weight filters one at a
    # time would take minutes and show nothing more.
    layers = (["--layers", "conv1,layer1.0.conv1,layer2.0.downsample.0,layer4.1.relu@2"]
              if kind == "resnet18" else [])
    analysis = os.path.join(out, "analysis")
    run(bin_, ["analyze", model, "--probe-size", "160", "--out", analysis] + flags + layers)
    run(bin_, ["gradients", model, "--probe-size", "160", "--out", analysis] + flags + layers)
    run(bin_, ["mask", model, "--probe-size", "160", "--baseline-seeds", "2", "--out", analysis] + flags + layers)
    run(bin_, ["ood", model, "--out", os.path.join(out, "ood"), "--fit-images", "400",
               "--detectors", "msp,max_logit,energy,odin"] + flags)
    run(bin_, ["activations", model, "--out", os.path.join(out, "activations")] + flags)
    run(bin_, ["visualize", model, "--parts", "am,gradcam", "--steps", "16", "--gradcam-images", "40",
               "--out", os.path.join(out, "visualize")] + flags)
    run(bin_, ["hierarchy", model, "--out", os.path.join(out, "hierarchy")] + flags)

    # analyze: the convolutions, their shapes and each filter's mean |activation|.
    with open(os.path.join(analysis, "analysis.json")) as f:
        a = json.load(f)
    idx = torch.tensor(a["probe_set"]["dataset_indices"])
    names = [layer["name"] for layer in a["layers"]]
    convs = [n for n, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    wanted = convs if not layers else [n for n in layers[1].split(",") if n in convs]
    check([n for n in names if n in convs] == wanted,
          f"{kind} analyze: convolutions {[n for n in names if n in convs]}, PyTorch has {wanted}")
    hooks = Hooks(net, names)
    with torch.no_grad():
        hooks.run(net, test_x[idx])
    for layer in a["layers"]:
        maps = hooks.out[layer["name"]]
        check(list(maps.shape[1:]) == layer["shape"], f"{kind} analyze {layer['name']}: shape {layer['shape']}, "
              f"PyTorch {list(maps.shape[1:])}")
        ours = [flt["mean_activation"] for flt in layer["filters"]]
        ref = maps.abs().double().mean((0, 2, 3)).numpy()
        err = rel_err(ours, ref)
        check(err < 1e-4, f"{kind} analyze {layer['name']}: mean |activation| differs from PyTorch's by {err:.1e}")
    hooks.close()

    # gradients: each sample's mean |gradient| per layer.
    with open(os.path.join(analysis, "gradients.csv")) as f:
        grads = list(csv.DictReader(f))
    params = dict(net.named_parameters())
    header = list(grads[0].keys())
    layer_cols = header[header.index("overall") + 1:]
    worst = 0.0
    for row in grads[:12]:
        row = {k: float(v) if k in layer_cols + ["overall"] else v for k, v in row.items()}
        i = int(row["dataset_index"])
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(test_x[i:i + 1]), test_y[i:i + 1]).backward()
        every = torch.cat([p.grad.abs().flatten() for p in params.values()])
        worst = max(worst, abs(row["overall"] - every.double().mean().item()) / every.double().mean().item())
        for col in layer_cols:
            module = col
            g = torch.cat([p.grad.abs().flatten() for n, p in params.items() if n.rsplit(".", 1)[0] == module])
            worst = max(worst, abs(row[col] - g.double().mean().item()) / max(1e-30, g.double().mean().item()))
    check(worst < 1e-3, f"{kind} gradients: per-sample mean |gradient| differs from PyTorch's by {worst:.1e}")
    check(len(layer_cols) == len({n.rsplit(".", 1)[0] for n in params}),
          f"{kind} gradients: {len(layer_cols)} layers, PyTorch has {len({n.rsplit('.', 1)[0] for n in params})}")

    # mask: accuracies before and with every anomaly filter masked.
    with open(os.path.join(analysis, "mask.json")) as f:
        m = json.load(f)

    def accuracy(x, y):
        with torch.no_grad():
            return (net(x).argmax(1) == y).double().mean().item()
    check(abs(m["before"]["val_acc"] - accuracy(test_x, test_y)) < 1e-12
          and abs(m["before"]["train_acc"] - accuracy(train_x, train_y)) < 1e-12,
          f"{kind} mask: accuracy before {m['before']} differs from PyTorch's")
    flagged = {(flt["conv"], flt["channel"]) for flt in m["one_at_a_time"]["filters"]}
    check(len(flagged) == m["anomaly_filters"], f"{kind} mask: {len(flagged)} filters listed, {m['anomaly_filters']} flagged")
    if flagged:
        masked = eager(kind, model)
        with torch.no_grad():
            for conv, channel in flagged:
                module = dict(masked.named_modules())[conv]
                module.weight[channel] = 0
                if module.bias is not None:
                    module.bias[channel] = 0
        saved, net = net, masked
        check(abs(m["all_at_once"]["val_acc"] - accuracy(test_x, test_y)) < 1e-12
              and abs(m["all_at_once"]["train_acc"] - accuracy(train_x, train_y)) < 1e-12,
              f"{kind} mask: accuracy with all anomaly filters masked {m['all_at_once']} differs from PyTorch's")
        net = saved

    # ood: the logit-based scores and ODIN on the in-distribution images.
    with open(os.path.join(out, "ood", "ood.json")) as f:
        notes = json.load(f)["notes"]
    check(not any("carries no filterscope.json" in n for n in notes),
          f"{kind} ood: a note says the file has no normalisation, but its filterscope.json gives it: {notes}")
    with open(os.path.join(out, "ood", "ood_scores.csv")) as f:
        rows = [r for r in csv.DictReader(f) if r["set"] == "in"]
    inside = {k: np.array([float(r[k]) for r in rows]) for k in ("msp", "max_logit", "energy", "odin")}
    x = test_x[torch.tensor([int(r["index"]) for r in rows])]
    with torch.no_grad():
        logits = net(x).double()
    ref = {"msp": logits.softmax(1).amax(1), "max_logit": logits.amax(1), "energy": logits.logsumexp(1)}
    xg = x.clone().requires_grad_(True)
    t, eps = 1000.0, 0.0014
    out_t = net(xg) / t
    loss = torch.nn.functional.cross_entropy(out_t, out_t.argmax(1), reduction="sum")
    g, = torch.autograd.grad(loss, xg)
    with torch.no_grad():
        ref["odin"] = (net(x - eps * g.sign()).double() / t).softmax(1).amax(1)
        tempered = (logits / t).softmax(1).amax(1)
    for name, value in ref.items():
        err = rel_err(inside[name], value.numpy())
        check(err < 1e-4, f"{kind} ood {name}: differs from PyTorch's by {err:.1e}")
    # At T = 1000 the step moves the score by ~1e-5 of itself: the step's own effect (the score less
    # the tempered softmax of the unmoved image) is what shows its direction and size.
    moved_ours, moved_ref = inside["odin"] - tempered.numpy(), (ref["odin"] - tempered).numpy()
    err = rel_err(moved_ours, moved_ref)
    check(err < 0.05 and (moved_ref > 0).mean() > 0.9,
          f"{kind} ood odin: the perturbation moves the score by {moved_ours.mean():.3e} on average, PyTorch's by "
          f"{moved_ref.mean():.3e} (differs by {err:.1e} of the largest move)")

    # activations: S1 frequencies of the last ReLU.
    with open(os.path.join(out, "activations", "activations.json")) as f:
        act = json.load(f)
    relus = [n for n, mod in net.named_modules() if isinstance(mod, torch.nn.ReLU)]
    last = relus[-1] if kind == "small_cnn" else "layer4.1.relu@2"
    freq_file = os.path.join(out, "activations", "frequencies", last + ".npy")
    check(os.path.exists(freq_file), f"{kind} activations: no {freq_file} (layers: {sorted(os.listdir(os.path.dirname(freq_file)))})")
    if os.path.exists(freq_file):
        hooks = Hooks(net, [last])
        with torch.no_grad():
            hooks.run(net, test_x)
        o = hooks.out[last]
        value = o.flatten(2).mean(2) if o.dim() == 4 else o
        ref = np.stack([(value[test_y == c] > 0).double().mean(0).numpy() for c in range(len(um.CLASSES))])
        ours = np.load(freq_file)
        check(ours.shape == ref.shape and np.array_equal(ours, ref),
              f"{kind} activations {last}: S1 frequencies differ from PyTorch's ({ours.shape} vs {ref.shape}, "
              f"max {np.abs(ours - ref).max() if ours.shape == ref.shape else 'n/a'}); classes {act.get('class_names')}")
        hooks.close()

    # visualize: Grad-CAM with autograd, and the saved AM images re-run through the model.
    vis = os.path.join(out, "visualize")
    with open(os.path.join(vis, "visualize.json")) as f:
        v = json.load(f)
    layer = v["gradcam"]["layer"]
    gidx = torch.tensor([im["dataset_index"] for im in v["gradcam"]["images"]])
    hooks = Hooks(net, [layer])
    logits = hooks.run(net, test_x[gidx])
    maps = hooks.out[layer]
    target = logits.argmax(1)
    g, = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), maps)
    cam = torch.relu((g.mean((2, 3), keepdim=True) * maps).sum(1)).detach().double().numpy()
    hooks.close()
    err = rel_err(np.load(os.path.join(vis, "gradcam.npy")), cam)
    check(err < 1e-4, f"{kind} visualize: Grad-CAM at {layer} differs from autograd's by {err:.1e} of its largest value")
    check([im["target"] for im in v["gradcam"]["images"]] == target.tolist(), f"{kind} visualize: Grad-CAM targets differ")
    am = v["maximisation"]
    with torch.no_grad():
        after = net((torch.from_numpy(np.load(os.path.join(vis, "am_images.npy"))) - um.MEAN) / um.STD)
        before = net((torch.from_numpy(np.load(os.path.join(vis, "am_start.npy"))) - um.MEAN) / um.STD)
    for i, im in enumerate(am["images"]):
        c = int(im["objective"].split(":")[1])
        check(abs(after[i, c].item() - im["after"]) <= 1e-3 * max(1.0, abs(im["after"]))
              and abs(before[i, c].item() - im["before"]) <= 1e-3 * max(1.0, abs(im["before"])),
              f"{kind} visualize: {im['objective']} saved images give {before[i, c].item():.4f} -> "
              f"{after[i, c].item():.4f} in PyTorch, visualize.json says {im['before']:.4f} -> {im['after']:.4f}")
        check(after[i, c] > before[i, c], f"{kind} visualize: {im['objective']} did not rise in PyTorch")
    # The PNG encoder, read back by PIL: am_grid.png is the saved images in a grid (a column per
    # objective, 2 white pixels between, each pixel drawn 3 x 3) rounded to bytes.
    images = np.load(os.path.join(vis, "am_images.npy")).astype(np.float32)
    n, ch, hh, ww = images.shape
    cols = max(1, min(len(am["objectives"]), n))
    rows_ = (n + cols - 1) // cols
    grid = np.ones((ch, rows_ * hh + (rows_ + 1) * 2, cols * ww + (cols + 1) * 2), np.float32)
    for i in range(n):
        r0, c0 = 2 + (i // cols) * (hh + 2), 2 + (i % cols) * (ww + 2)
        grid[:, r0:r0 + hh, c0:c0 + ww] = images[i]
    grid = np.round(np.clip(grid, 0, 1).repeat(3, 1).repeat(3, 2) * 255).astype(np.int16).transpose(1, 2, 0)
    with Image.open(os.path.join(vis, "am_grid.png")) as png:
        decoded = np.asarray(png.convert("RGB")).astype(np.int16)
    check(decoded.shape == grid.shape and np.abs(decoded - grid).max() <= 1,
          f"{kind} visualize: am_grid.png decodes to {decoded.shape}, not the saved images' grid {grid.shape}"
          + (f" (largest byte difference {np.abs(decoded - grid).max()})" if decoded.shape == grid.shape else ""))

    # hierarchy: the class representatives.
    hier = os.path.join(out, "hierarchy")
    with open(os.path.join(hier, "hierarchy.json")) as f:
        h = json.load(f)
    hooks = Hooks(net, [h["layer"]])
    with torch.no_grad():
        hooks.run(net, test_x)
    o = hooks.out[h["layer"]].flatten(1).double()
    ref = torch.stack([o[test_y == c].mean(0) for c in range(len(um.CLASSES))]).numpy()
    ours = np.load(os.path.join(hier, "representatives.npy"))
    err = rel_err(ours, ref) if ours.shape == ref.shape else float("inf")
    check(err < 1e-4, f"{kind} hierarchy at {h['layer']}: representatives {ours.shape} differ from PyTorch's "
          f"{ref.shape} by {err:.1e}")
    hooks.close()
    print(f"user models: {kind}: {len(names)} probe points analysed, {len(flagged)} anomaly filters masked, "
          f"Grad-CAM at {layer}, hierarchy at {h['layer']}")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--filterscope", required=True)
    p.add_argument("--workdir", required=True)
    p.add_argument("--models", default="small_cnn,resnet18")
    args = p.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    torch.set_num_threads(1)
    subprocess.run([sys.executable, os.path.join(HERE, "make_user_models.py"), args.workdir], check=True)
    data = os.path.join(args.workdir, "images")
    test_x, test_y = um.read_split(data, "test")
    train_x, train_y = um.read_split(data, "train")
    for kind in args.models.split(","):
        check_model(args.filterscope, args.workdir, kind, data, test_x, test_y, train_x, train_y)
    for line in problems:
        print("FAIL:", line)
    if problems:
        sys.exit(1)
    print("user models: every command agrees with PyTorch")


if __name__ == "__main__":
    main()
