#!/usr/bin/env python3
"""What a PyTorch user brings to filterscope: a folder of 3-channel PNG images and two TorchScript
files made outside the project.

  * DIR/images/{train,test}/<class>/NNNN.png: 32x32 RGB, four classes (a coloured square, disc, bar
    or cross on noise), 100 training and 40 test images a class, from a seeded generator;
  * DIR/small_cnn.pt: a 3-channel CNN with batch norm and in-place ReLUs, trained here for a few
    epochs with Adam and scripted (torch.jit.script);
  * DIR/resnet18.pt: torchvision's ResNet-18 with random weights and four classes, traced.
Both files carry a filterscope.json with the input size and the normalisation (mean 0.5, sd 0.25
a channel), so that PyTorch and filterscope feed the models the same numbers.

  make_user_models.py DIR
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision
from PIL import Image

CLASSES = ["bar", "cross", "disc", "square"]
SIDE = 32
MEAN, STD = 0.5, 0.25


def draw(kind, rng):
    img = rng.uniform(0, 0.35, size=(SIDE, SIDE, 3))
    colour = rng.uniform(0.55, 1.0, size=3)
    cy, cx = rng.integers(10, 22, size=2)
    r = int(rng.integers(5, 9))
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    if kind == "square":
        mask = (abs(yy - cy) <= r) & (abs(xx - cx) <= r)
    elif kind == "disc":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    elif kind == "bar":
        mask = (abs(yy - cy) <= 2) & (abs(xx - cx) <= r + 3)
    else:
        mask = ((abs(yy - cy) <= 1) & (abs(xx - cx) <= r)) | ((abs(xx - cx) <= 1) & (abs(yy - cy) <= r))
    img[mask] = colour
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def write_images(root, seed=0):
    rng = np.random.default_rng(seed)
    for split, count in (("train", 100), ("test", 40)):
        for c in CLASSES:
            d = os.path.join(root, split, c)
            os.makedirs(d, exist_ok=True)
            for i in range(count):
                Image.fromarray(draw(c, rng), "RGB").save(os.path.join(d, f"{i:04d}.png"))


def read_split(root, split):
    """The split as filterscope orders it: classes and files sorted by name."""
    xs, ys = [], []
    for label, c in enumerate(sorted(os.listdir(os.path.join(root, split)))):
        for f in sorted(os.listdir(os.path.join(root, split, c))):
            xs.append(np.asarray(Image.open(os.path.join(root, split, c, f)).convert("RGB")))
            ys.append(label)
    pixels = np.stack(xs).astype(np.float32) / np.float32(255)
    x = (pixels.transpose(0, 3, 1, 2) - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.tensor(ys)


class SmallCnn(nn.Module):
    def __init__(self, classes=4):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu1 = nn.ReLU(inplace=True)
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 24, 3, padding=1)
        self.relu2 = nn.ReLU(inplace=True)
        self.pool2 = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(24 * 8 * 8, 32)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(32, classes)

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        return self.fc2(self.relu3(self.fc1(torch.flatten(x, 1))))


def extra():
    return {"filterscope.json": json.dumps({"input_size": [3, SIDE, SIDE], "mean": [MEAN] * 3, "std": [STD] * 3})}


def main():
    out = sys.argv[1]
    torch.manual_seed(0)
    torch.set_num_threads(1)
    images = os.path.join(out, "images")
    write_images(images)
    x, y = read_split(images, "train")
    net = SmallCnn()
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(4):
        for idx in torch.randperm(len(y), generator=g).split(32):
            opt.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            opt.step()
    net.eval()
    tx, ty = read_split(images, "test")
    with torch.no_grad():
        acc = (net(tx).argmax(1) == ty).float().mean().item()
    torch.jit.save(torch.jit.script(net), os.path.join(out, "small_cnn.pt"), _extra_files=extra())
    resnet = torchvision.models.resnet18(num_classes=len(CLASSES)).eval()
    torch.jit.save(torch.jit.trace(resnet, tx[:2]), os.path.join(out, "resnet18.pt"), _extra_files=extra())
    print(f"user models: small_cnn test accuracy {acc:.3f}; images in {images}")


if __name__ == "__main__":
    main()
