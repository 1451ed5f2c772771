"""filterscope from Python: the same library as the `filterscope` command, on live PyTorch models.

    import filterscope
    result = filterscope.analyze(model, (images, labels), probe_size=500)   # any nn.Module
    result.filters, result.outliers          # pandas DataFrames: filters.csv and outliers.csv
    result.save("analysis")                  # the CLI's files, byte for byte

    with filterscope.Monitor("runs/mine", model, train_set, val_set, optimizer=opt) as monitor:
        for epoch in range(1, epochs + 1):
            for indices, x, y in loader:     # a loader over filterscope.IndexedDataset(train_set)
                ...; monitor.on_batch(indices, logits, y, loss)
            monitor.on_epoch_end(epoch)      # writes the run every command takes
    filterscope.overfit("runs/mine").signals # when did it start to overfit

Models are scripted internally (torch.jit.script, or torch.jit.trace on one batch when scripting
fails); the script shares the model's parameters, so a monitor sees training's updates. Keyword
arguments are the CLI's flag names with _ for -; a bad one raises ValueError with the CLI's message.
docs/python.md has the whole API and each call's CLI twin.
"""
import io
import json
import os
import sys

import torch

from ._filterscope import Error  # noqa: F401  (filterscope.Error: a RuntimeError with the CLI's one-line message)
from . import _filterscope as _native

__all__ = ["analyze", "Analysis", "ood", "activations", "visualize", "hierarchy", "gradients", "mask", "ModelResult",
           "Monitor", "IndexedDataset", "overfit", "OverfitResult", "clean", "CleanResult", "confident_learning",
           "signals", "cli", "abi", "Error"]
__version__ = "0.1.0"


# ---- inputs --------------------------------------------------------------------------------------

def _as_label(y, what):
    if torch.is_tensor(y):
        if y.numel() != 1:
            raise TypeError(f"{what}: a label must be one integer, got a tensor of shape {tuple(y.shape)}")
        return int(y.item())
    if isinstance(y, (int,)) and not isinstance(y, bool):
        return y
    raise TypeError(f"{what}: a label must be an integer, got {type(y).__name__}")


def _item_xy(item, what):
    """(x, y) of a dataset item (x, y) or (index, x, y)."""
    if isinstance(item, (tuple, list)) and len(item) in (2, 3):
        x, y = item[-2], item[-1]
        if torch.is_tensor(x):
            return x, y
    raise TypeError(f"{what}: items must be (image, label) or (index, image, label) with a tensor image, "
                    f"got {type(item).__name__}")


def _tensors(data, what, allow_loader=True):
    """images [N, C, H, W], labels [N] int64 and the class names (when the data say) of `data`."""
    classes = None
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(torch.is_tensor(t) for t in data):
        images, labels = data
    elif isinstance(data, torch.utils.data.DataLoader):
        if not allow_loader:
            raise TypeError(f"{what}: give the Dataset (on_batch's indices are positions in it), not a DataLoader")
        xs, ys = [], []
        for batch in data:
            x, y = _item_xy(batch, what)
            xs.append(x)
            ys.append(y if torch.is_tensor(y) else torch.as_tensor(y))
        images, labels = torch.cat(xs), torch.cat(ys)
        classes = getattr(data.dataset, "classes", None)
    elif isinstance(data, torch.utils.data.Dataset):
        xs, ys = [], []
        for i in range(len(data)):
            x, y = _item_xy(data[i], what)
            xs.append(x)
            ys.append(_as_label(y, what))
        images, labels = torch.stack(xs), torch.tensor(ys, dtype=torch.int64)
        classes = getattr(data, "classes", None)
    else:
        raise TypeError(f"{what}: expected a torch Dataset, a DataLoader or a pair (images, labels) of tensors, "
                        f"got {type(data).__name__}")
    if images.dim() == 3:
        images = images.unsqueeze(1)  # [N, H, W] grey images
    if images.dim() != 4:
        raise ValueError(f"{what}: images must be [N, C, H, W], got shape {tuple(images.shape)}")
    if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
        raise ValueError(f"{what}: {images.shape[0]} images need {images.shape[0]} labels, got shape {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ValueError(f"{what}: labels must be integers, got {labels.dtype}")
    return images, labels.to(torch.int64), [str(c) for c in classes] if classes is not None else []


def _model_device(model):
    for p in model.parameters():
        return p.device
    return torch.device("cpu")


def _script(model, example, what="model"):
    """The model as TorchScript sharing its parameters (scripted, else traced on `example`)."""
    if isinstance(model, torch.jit.ScriptModule):
        return model
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"{what}: expected a torch.nn.Module or a TorchScript module, got {type(model).__name__}")
    try:
        return torch.jit.script(model)
    except Exception as scripting:  # noqa: BLE001  (torch raises many kinds)
        try:
            with torch.no_grad():
                return torch.jit.trace(model, example, check_trace=False)
        except Exception as tracing:  # noqa: BLE001
            first = str(scripting).strip().splitlines()[0] if str(scripting).strip() else type(scripting).__name__
            second = str(tracing).strip().splitlines()[0] if str(tracing).strip() else type(tracing).__name__
            raise Error(f"{what}: torch.jit.script failed ({first}) and so did torch.jit.trace ({second})") from None


def _keywords(kwargs):
    out = {}
    for k, v in kwargs.items():
        if isinstance(v, torch.device):
            v = str(v)
        elif torch.is_tensor(v) and v.numel() == 1:
            v = v.item()
        out[k] = v
    try:
        return json.dumps(out)
    except TypeError as e:
        raise TypeError(f"keyword arguments must be numbers, text or booleans ({e})") from None


def _check_same_device(model, images, what):
    device = _model_device(model)
    if images.device.type != device.type:
        raise ValueError(f"{what}: images on {images.device}, the model on {device}; move one of them")


# ---- analyses of a live model ---------------------------------------------------------------------

def _frame(text):
    import pandas as pd
    return pd.read_csv(io.StringIO(text))


class Analysis:
    """What `filterscope analyze` finds, in memory: .filters and .outliers (DataFrames with the rows
    and columns of filters.csv and outliers.csv), .record (analysis.json as a dict), .projections
    ({probe point: (points [C, N, 2], labels [C, N])} when keep_points=True), .save(dir)."""

    def __init__(self, files):
        self._files = files
        self.record = json.loads(files.analysis_json)
        self.filters = _frame(files.filters_csv)
        self.outliers = _frame(files.outliers_csv)
        self.projections = {stem: (points, labels) for stem, points, labels in files.projections}

    @property
    def anomaly_filters(self):
        return self.filters[self.filters["anomaly"] == 1]

    def save(self, directory):
        """Writes the CLI's files (analysis.json, filters.csv, outliers.csv, projections/) into directory."""
        self._files.save(os.fspath(directory))
        return directory

    def __repr__(self):
        r = self.record["summary"]
        return (f"<filterscope.Analysis: {r['filters']} filters, {r['anomaly_filters']} anomaly filters, "
                f"{len(self.outliers)} outlier samples>")


def analyze(model, data, **kwargs):
    """Anomaly filters and outlier samples of `model` (an nn.Module or TorchScript module) on `data` (a
    Dataset, a DataLoader or (images, labels) of network-ready tensors). Keywords as `filterscope analyze`'s
    flags: probe_size (default: min(1000, N); all of them are used in the order given), probe_seed, layers,
    small_cluster, alpha, beta, theta, kmin, kmax, max_memory, keep_points, threads, device, ..."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module or a TorchScript module, got {type(model).__name__}")
    images, labels, classes = _tensors(data, "data")
    _check_same_device(model, images, "data")
    kwargs.setdefault("probe_size", min(1000, images.shape[0]))
    module = _script(model, images[:1].to(_model_device(model)))
    name = type(model).__name__ if not isinstance(model, torch.jit.ScriptModule) else model.original_name
    return Analysis(_native.analyze(module._c, name, images, labels, classes, _keywords(kwargs)))


def probe_points(model, example):
    """The probe points of `model` (`filterscope analyze --list-layers`), in forward order: a DataFrame
    with name, kind (conv, relu, maxpool, linear, ...), channels and weights_of (the layer whose filters
    or units these are). `layers=` of analyze, ood, activations and visualize takes these names or kinds.
    `example`: a network-ready batch of images [N, C, H, W] on the model's device (its shape is what counts)."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module or a TorchScript module, got {type(model).__name__}")
    if not isinstance(example, torch.Tensor) or example.dim() != 4:
        raise ValueError("example: expected a batch of images as a 4-D tensor [N, C, H, W]")
    module = _script(model, example[:1].to(_model_device(model)))
    name = type(model).__name__ if not isinstance(model, torch.jit.ScriptModule) else model.original_name
    rows = _native.probe_points(module._c, name, list(example.shape[1:]))
    import pandas as pd
    return pd.DataFrame(rows, columns=["name", "kind", "channels", "weights_of"])


# ---- the other commands on one model ------------------------------------------------------------

class ModelResult:
    """What a command on one model wrote into `out` (the CLI's files): .record (its JSON record as a
    dict), .tables (its CSV files as DataFrames, by file name), .arrays (its .npy files as tensors),
    .out (the folder)."""

    def __init__(self, record_json, out):
        import numpy as np
        self.record = json.loads(record_json)
        self.out = os.fspath(out)
        self.tables, self.arrays = {}, {}
        for name in sorted(os.listdir(self.out)):
            path = os.path.join(self.out, name)
            if name.endswith(".csv"):
                import pandas as pd
                self.tables[name[:-4]] = pd.read_csv(path)
            elif name.endswith(".npy"):
                self.arrays[name[:-4]] = torch.from_numpy(np.load(path))

    def __repr__(self):
        return f"<filterscope result in {self.out}: tables {list(self.tables)}, arrays {list(self.arrays)}>"


def _model_inputs(model, train, test, mean, std, class_names, what):
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module or a TorchScript module, got {type(model).__name__}")
    x, y, classes = _tensors(train, f"{what}: train")
    tx, ty, _ = _tensors(test, f"{what}: test")
    device = _model_device(model)
    example = x[:1].float() if x.dtype == torch.uint8 else x[:1]
    if x.dtype == torch.uint8 and mean is not None:
        m = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        sd = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        example = (x[:1].float() / 255 - m) / sd
    module = _script(model, example.to(device))
    name = type(model).__name__ if not isinstance(model, torch.jit.ScriptModule) else model.original_name
    names = [str(c) for c in (class_names or classes)]
    return (module._c, name, x, y, tx, ty, names, [float(v) for v in (mean or [])], [float(v) for v in (std or [])])


def ood(model, train, test, *, out, mean=None, std=None, class_names=None, **flags):
    """`filterscope ood` on a live model: `train` (images its statistics are fitted on) and `test` (the
    in-distribution images) as uint8 pixels with the model's `mean` and `std` (per channel, on the
    [0, 1] scale; fitted on `train` when not given). Writes ood.json and ood_scores.csv into `out`."""
    return ModelResult(_native.ood(*_model_inputs(model, train, test, mean, std, class_names, "ood"),
                                   os.fspath(out), _keywords(flags)), out)


def activations(model, train, test, *, out, mean=None, std=None, class_names=None, **flags):
    """`filterscope activations` on a live model (uint8 pixels, as for ood)."""
    return ModelResult(_native.activations(*_model_inputs(model, train, test, mean, std, class_names, "activations"),
                                           os.fspath(out), _keywords(flags)), out)


def visualize(model, train, test, *, out, objectives=(), mean=None, std=None, class_names=None, **flags):
    """`filterscope visualize` on a live model (uint8 pixels): .arrays holds the pictures as tensors."""
    return ModelResult(_native.visualize(*_model_inputs(model, train, test, mean, std, class_names, "visualize"),
                                         os.fspath(out), [str(o) for o in objectives], _keywords(flags)), out)


def hierarchy(model, train, test, *, out, mean=None, std=None, class_names=None, **flags):
    """`filterscope hierarchy` on a live model (uint8 pixels)."""
    return ModelResult(_native.hierarchy(*_model_inputs(model, train, test, mean, std, class_names, "hierarchy"),
                                         os.fspath(out), _keywords(flags)), out)


def gradients(model, train, test, *, out, mean=None, std=None, class_names=None, **flags):
    """`filterscope gradients` on a live model: its analysis on a probe set (split=val draws it from
    `test`, split=train from `train`), then every probe sample's gradient. Images as the model takes
    them (float) or uint8 pixels with mean and std."""
    return ModelResult(_native.gradients_or_mask("gradients", *_model_inputs(model, train, test, mean, std, class_names,
                                                                              "gradients"),
                                                 os.fspath(out), _keywords(flags)), out)


def mask(model, train, test, *, out, mean=None, std=None, class_names=None, **flags):
    """`filterscope mask` on a live model: its analysis, then each anomaly filter masked alone, random
    filters, all at once; accuracies on `train` and `test`."""
    return ModelResult(_native.gradients_or_mask("mask", *_model_inputs(model, train, test, mean, std, class_names, "mask"),
                                                 os.fspath(out), _keywords(flags)), out)


# ---- the monitor ---------------------------------------------------------------------------------

class IndexedDataset(torch.utils.data.Dataset):
    """`dataset` with each item's position first: (index, image, label), what Monitor.on_batch needs."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.classes = getattr(dataset, "classes", None)

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        x, y = _item_xy(self.dataset[i], "dataset")
        return i, x, y


def _optimizer_info(optimizer):
    if optimizer is None:
        return "other", 0.0, 0.0, 0.0
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer: expected a torch.optim.Optimizer, got {type(optimizer).__name__}")
    group = optimizer.param_groups[0]
    name = "sgd" if type(optimizer) is torch.optim.SGD else "adam" if type(optimizer) is torch.optim.Adam else "other"
    return name, float(group.get("lr", 0.0)), float(group.get("momentum", 0.0)), float(group.get("weight_decay", 0.0))


class Monitor:
    """Watches a training loop and writes a run directory every `filterscope` command takes.

    Monitor(run_dir, model, train_set, val_set=None, *, optimizer=None, batch_size=None, epochs=None,
            seed=0, log_every=0, sample_log=True, run_log=True, label_noise=None, class_names=None,
            signals="live", quiet=False, **signal_keywords)

    train_set: a Dataset or (images, labels); on_batch's indices are positions in it. val_set is
    evaluated at each epoch's end (None: no validation set). label_noise: (positions, original_labels)
    of labels you replaced, the ground truth `clean` scores its detectors against. signals: the live
    overfitting alarm's signals ("live", names, or "none"); each epoch's end prints "overfitting since
    epoch E by S" when a signal's rule fires and keeps it in .alarms.
    """

    def __init__(self, run_dir, model, train_set, val_set=None, *, optimizer=None, batch_size=None, epochs=None,
                 seed=0, log_every=0, sample_log=True, run_log=True, label_noise=None, class_names=None,
                 signals="live", quiet=False, **signal_keywords):
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model: expected a torch.nn.Module or a TorchScript module, got {type(model).__name__}")
        images, labels, classes = _tensors(train_set, "train_set", allow_loader=False)
        val_images = val_labels = None
        if val_set is not None:
            val_images, val_labels, _ = _tensors(val_set, "val_set")
        device = _model_device(model)
        module = _script(model, images[:1].to(device))
        replaced, original = [], []
        if label_noise is not None:
            try:
                positions, before = label_noise
                replaced = [int(p) for p in (positions.tolist() if torch.is_tensor(positions) else positions)]
                original = [int(p) for p in (before.tolist() if torch.is_tensor(before) else before)]
            except (TypeError, ValueError):
                raise TypeError("label_noise: expected (positions, original_labels), two sequences of integers") from None
        opt, lr, momentum, weight_decay = _optimizer_info(optimizer)
        name = type(model).__name__ if not isinstance(model, torch.jit.ScriptModule) else model.original_name
        self.quiet = quiet
        self.alarms = []
        self.history = []
        self._native = _native.RunMonitor(
            os.fspath(run_dir), module._c, name, images, labels, val_images, val_labels,
            [str(c) for c in (class_names or classes)], opt, lr, momentum, weight_decay, int(batch_size or 0),
            int(epochs or 0), int(seed), int(log_every), bool(sample_log), bool(run_log), replaced, original,
            _keywords(dict(signals=signals, **signal_keywords)))
        self._module = module  # keeps the script (and so the shared parameters' holder) alive
        if self._native.alarm_off and not quiet:
            print(f"filterscope: {self._native.alarm_off}", file=sys.stderr)

    @property
    def run_dir(self):
        return self._native.run_dir

    def on_batch(self, indices, logits, labels, loss):
        """One training step: indices [B] (positions in train_set), logits [B, classes], labels [B], loss."""
        for value, what in ((indices, "indices"), (logits, "logits"), (labels, "labels")):
            if not torch.is_tensor(value):
                raise TypeError(f"on_batch: {what} must be a tensor, got {type(value).__name__}")
        loss = float(loss.item() if torch.is_tensor(loss) else loss)
        self._native.on_batch(indices, logits.detach(), labels, loss)

    def on_epoch_end(self, epoch):
        """The end of epoch `epoch` (1, 2, ...): returns its metrics row (a dict)."""
        row, lines = self._native.on_epoch_end(int(epoch))
        self.history.append(row)
        for line in lines:
            self.alarms.append((int(epoch), line))
            if not self.quiet:
                print(f"filterscope: {line}", file=sys.stderr)
        return row

    def close(self):
        self._native.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---- commands on a run ---------------------------------------------------------------------------

class OverfitResult:
    """`filterscope overfit`'s answer: .record (overfit.json), .table (overfit.csv: a row per epoch,
    a column per signal) and .signals (a row per signal: its stopping epoch, the accuracy lost there)."""

    def __init__(self, record_json, table_csv):
        import pandas as pd
        self.record = json.loads(record_json)
        self.table = _frame(table_csv)
        keys = ["name", "predicted_epoch", "fired", "fired_at", "val_acc_at_predicted", "val_acc_lost",
                "epochs_from_oracle", "seconds_per_epoch", "cost_share", "rule_text", "assumption"]
        self.signals = pd.DataFrame([{k: s[k] for k in keys} for s in self.record["signals"]])

    @property
    def oracle(self):
        return self.record["oracle"]


def overfit(run_dir, **kwargs):
    """Every training signal of a run (`filterscope overfit RUN`; keywords as its flags)."""
    return OverfitResult(*_native.overfit(os.fspath(run_dir), _keywords(kwargs)))


class CleanResult:
    """`filterscope clean`'s answer: .record (clean.json) and .table (clean.csv)."""

    def __init__(self, record_json, table_csv):
        self.record = json.loads(record_json)
        self.table = _frame(table_csv)


def clean(run_dir, **kwargs):
    """The label-noise detectors on a run (`filterscope clean RUN`; keywords as its flags)."""
    return CleanResult(*_native.clean(os.fspath(run_dir), _keywords(kwargs)))


def confident_learning(labels, probabilities):
    """cleanlab's confident joint and prune-by-noise-rate flags on out-of-sample probabilities [N, K]."""
    labels = torch.as_tensor(labels).to(torch.int64).tolist()
    return _native.confident_learning(labels, torch.as_tensor(probabilities, dtype=torch.float64))


def signals():
    """The registered training signals: name, definition, source, rule, live (in the alarm's default set)."""
    return _native.training_signals()


def cli(*args):
    """Runs `filterscope ARGS...` in this process (the Python call beside every command); returns its exit code."""
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = args[0]
    return _native.cli([os.fspath(a) if isinstance(a, os.PathLike) else str(a) for a in args])


def abi():
    """What the native module was built with beside what torch uses: both must agree."""
    return {
        "module": {"glibcxx_use_cxx11_abi": _native.GLIBCXX_USE_CXX11_ABI,
                   "pybind11_internals_id": _native.PYBIND11_INTERNALS_ID,
                   "pybind11_build_abi": _native.PYBIND11_BUILD_ABI, "torch_version": _native.TORCH_VERSION},
        "torch": {"glibcxx_use_cxx11_abi": int(torch._C._GLIBCXX_USE_CXX11_ABI),
                  "pybind11_build_abi": torch._C._PYBIND11_BUILD_ABI, "torch_version": torch.__version__},
    }
