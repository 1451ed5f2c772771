#!/usr/bin/python3
"""Writes the seed corpora of the fuzz harnesses: small valid inputs of each format, made here
rather than kept as binary files in the repository, and the inputs that once found a problem
(fuzz/regressions/<harness>/*.hex, as hex text), so that every run replays them first.

  make_seeds.py OUT_DIR      OUT_DIR/<harness>/seed-N and regression-NAME for every harness in fuzz/
"""
import gzip
import io
import json
import os
import struct
import sys
import zipfile
import zlib

import numpy as np


def idx_images(n, rows, cols):
    return struct.pack(">IIII", 0x803, n, rows, cols) + bytes((i * 37) % 256 for i in range(n * rows * cols))


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))


def png(width, height, color_type, bit_depth=8):
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row_bytes = width * channels * bit_depth // 8
    raw = b"".join(b"\x00" + bytes((x * 7 + y * 13) % 256 for x in range(row_bytes)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg(width, height):
    try:
        from PIL import Image
    except ImportError:
        return None
    image = Image.new("RGB", (width, height))
    image.putdata([((x * 20) % 256, (y * 30) % 256, 128) for y in range(height) for x in range(width)])
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


def npy(array, version=None):
    out = io.BytesIO()
    if version is None:
        np.save(out, array)
    else:
        np.lib.format.write_array(out, array, version=version)
    return out.getvalue()


def zip_archive(records):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data, method in records:
            z.writestr(zipfile.ZipInfo(name), data, compress_type=method)
    return out.getvalue()


def settings():
    return {
        "data": {"dataset": "fashion-mnist", "data-dir": "", "classes": "", "synthetic-size": 3000,
                 "synthetic-seed": 7, "partial-data": False},
        "split": {"train-size": 8, "val-size": 4, "split-seed": 0},
        "train": {"model": "simple-cnn", "optimizer": "adam", "lr": 0.001, "momentum": 0.9, "weight-decay": 0.0,
                  "batch-size": 32, "epochs": 3, "seed": 0, "label-noise": 0.25, "input-size": 0},
    }


def run_json():
    return {
        "format": "filterscope-run-1",
        "settings": settings(),
        "dataset": {"name": "fashion-mnist", "num_classes": 10, "class_names": [str(c) for c in range(10)],
                    "image_shape": [1, 28, 28],
                    "normalisation": {"mean": [0.286], "std": [0.353], "resize": 0},
                    "train_split": "fashion-mnist/train", "val_split": "fashion-mnist/test",
                    "train_indices": [3, 9, 27, 81, 243, 729, 2187, 6561], "val_indices": [1, 2, 3, 4]},
        "label_noise": {"share": 0.25, "count": 2, "dataset_indices": [9, 243], "original_labels": [0, 3],
                        "new_labels": [5, 7]},
        "network": {"name": "simple-cnn", "in_channels": 1, "num_classes": 10, "input_size": 28,
                    "parameters": 123456,
                    "probe_points": [{"name": "conv1", "kind": "conv", "owner_conv": "conv1", "channels": 32},
                                     {"name": "relu1", "kind": "relu", "owner_conv": "conv1", "channels": 32}]},
    }


def checkpoint_meta():
    return {"format": "filterscope-checkpoint-1", "epoch": 3, "network": "simple-cnn", "in_channels": 1,
            "num_classes": 10, "input_size": 28, "settings": settings()}


def seeds():
    s = {}
    s["idx"] = [b"\x00" + idx_images(2, 3, 3), b"\x01" + idx_labels(5),
                b"\x00" + gzip.compress(idx_images(3, 4, 2), mtime=0), b"\x01" + gzip.compress(idx_labels(4), mtime=0),
                b"\x00" + gzip.compress(idx_images(1, 2, 2), mtime=0) + gzip.compress(b"\x07" * 4, mtime=0)]
    s["cifar"] = [b"\x00" + bytes([3]) + bytes(range(256)) * 12 + bytes([9]) + bytes(3072),
                  b"\x01" + bytes([4, 77]) + bytes((i * 3) % 256 for i in range(3072))]
    s["npy"] = [npy(np.arange(6, dtype="<f4").reshape(3, 2)), npy(np.arange(4, dtype="<f8")),
                npy(np.arange(5, dtype="<i8")), npy(np.array([[1, 2]], dtype="<i4")), npy(np.zeros((2, 0), "|u1")),
                npy(np.array([True, False])), npy(np.float32(3.5)), npy(np.ones((2, 2), "<f4"), version=(2, 0))]
    images = [png(3, 2, 0), png(2, 2, 2), png(2, 3, 6), png(2, 2, 4), png(2, 1, 0, 16), png(4, 4, 2, 16)]
    j = jpeg(8, 8)
    if j is not None:
        images.append(j)
    s["image"] = [bytes([k % 2]) + im for k, im in enumerate(images)]
    s["export_info"] = [json.dumps(x).encode() for x in [
        {"format": "filterscope-torchscript-1", "input_size": 28, "mean": [0.286], "std": [0.353]},
        {"input_size": [3, 64, 64], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        {"input_size": [32, 32]}, {}]]
    s["run_json"] = [json.dumps(run_json()).encode()]
    meta = json.dumps(checkpoint_meta()).encode()
    s["checkpoint"] = [
        zip_archive([("archive/data.pkl", b"\x80\x02}q\x00.", zipfile.ZIP_STORED),
                     ("archive/extra/filterscope.json", meta, zipfile.ZIP_DEFLATED),
                     ("archive/data/0", struct.pack("<8f", *range(8)), zipfile.ZIP_STORED),
                     ("archive/version", b"3\n", zipfile.ZIP_STORED)]),
        meta]
    s["serve_query"] = [b"/api/runs", b"/api/runs/a/series?layer=0&stat=norm&from=0&to=40&points=100",
                        b"/api/runs/a/series?layer=1&units=0,3,7&stat=change",
                        b"/api/runs/a/cube?class=2&pattern=learned&offset=0&limit=50",
                        b"/api/runs/a/layers/0/groups?order=movement&groups=8", b"/runs/a/report.html"]
    s["samples"] = [b"\x00position,dataset_index,label,prediction,loss,margin,correct\n"
                    b"0,17,3,3,0.125,2.5,1\n1,4,0,7,3.25,-1.75,0\n",
                    b"\x01dataset_index\n12\n7  # a comment\n\n5\n"]
    # The typed records of a run: small valid examples (fuzz/examples/, a real run's files with every
    # list cut to two entries), the first byte picking the reader where a harness has several.
    examples = os.path.join(os.path.dirname(os.path.abspath(__file__)), "examples")

    def example(name):
        with open(os.path.join(examples, name + ".json"), "rb") as f:
            return f.read()

    s["analysis"] = [example("analysis")]
    s["study"] = [bytes([k]) + example(name) for k, name in
                  enumerate(["track", "gradients", "mask", "clean", "verdicts", "retrain", "study"])]
    s["activation"] = [b"\x00" + example("activations"), b"\x01" + example("ood")]
    # The run log: the harness builds a valid log; the input edits it (see fuzz_run_log.cpp).
    s["run_log"] = [b"\x00\x00" + bytes(range(16)), b"\x03\x00" + bytes(range(40)),
                    b"\x00\x02" + bytes((i * 29) % 256 for i in range(24))]
    return s


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    regressions = os.path.join(os.path.dirname(os.path.abspath(__file__)), "regressions")
    for name, items in seeds().items():
        folder = os.path.join(sys.argv[1], name)
        os.makedirs(folder, exist_ok=True)
        for i, data in enumerate(items):
            with open(os.path.join(folder, f"seed-{i}"), "wb") as f:
                f.write(data)
        found = os.path.join(regressions, name)
        for hex_name in sorted(os.listdir(found)) if os.path.isdir(found) else []:
            with open(os.path.join(found, hex_name)) as f:
                data = bytes.fromhex("".join(f.read().split()))
            with open(os.path.join(folder, "regression-" + hex_name[:-4]), "wb") as f:
                f.write(data)
    print(f"make_seeds: {sum(len(v) for v in seeds().values())} seeds for {len(seeds())} harnesses in {sys.argv[1]}")


if __name__ == "__main__":
    main()
