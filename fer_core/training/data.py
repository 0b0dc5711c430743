"""The images a training run learns from, as arrays: splits, class weights, caps and targets.

Why: the trainer works on ``(N, H, W, C)`` uint8 arrays in the card's colour order; which
split trains, which validates (carved out of training when the data has none) and how the
loss weighs each class are decided here, before any network exists.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fer_core.data.datasets import Dataset, Split
from fer_core.data.labels import one_hot
from fer_core.errors import DatasetError, ImageError
from fer_core.inference.preprocess import convert_face
from fer_core.training.config import TrainConfig

log = logging.getLogger(__name__)


def split_to_arrays(split: Split, size: tuple[int, int], color_mode: str,
                    on_error: Callable[[int, Exception], None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Images of ``split`` as ``(N, H, W, C)`` uint8 in the card's colour order, plus labels."""
    channels = 1 if color_mode == "grayscale" else 3
    arr = split.array
    if arr is not None and split.transform is None and arr.ndim == 3 and arr.shape[1:] == size and channels == 1:
        return arr[..., None].astype(np.uint8), split.labels.astype(np.int64)
    images: list[np.ndarray] = []
    keep: list[int] = []
    for i in range(len(split)):
        try:
            img = split.image(i)
        except ImageError as exc:
            if on_error is None:
                raise
            on_error(i, exc)
            continue
        images.append(convert_face(img, size, color_mode))
        keep.append(i)
    x = np.stack(images) if images else np.zeros((0, size[0], size[1], channels), np.uint8)
    return x, split.labels[np.array(keep, dtype=np.int64)].astype(np.int64)


def class_weights(labels: np.ndarray, n_classes: int, mode: str) -> dict[int, float] | None:
    """Per-class loss weights: ``balanced`` (inverse frequency), ``sqrt`` (its square root), or none."""
    if mode == "none":
        return None
    counts = np.bincount(labels, minlength=n_classes).astype(np.float64)
    present = counts > 0
    inv = np.zeros(n_classes)
    inv[present] = counts[present].sum() / (present.sum() * counts[present])
    if mode == "sqrt":
        inv = np.sqrt(inv)
    elif mode != "balanced":
        raise ValueError(f"class_weight must be none, sqrt or balanced, not {mode!r}")
    inv[present] /= np.average(inv[present], weights=counts[present])
    return {i: float(w) for i, w in enumerate(inv) if present[i]}


def cap_per_class(labels: np.ndarray, cap: int, seed: int) -> np.ndarray:
    """Indices keeping at most ``cap`` examples of each class (for quick runs)."""
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        keep.append(idx[:cap])
    return np.sort(np.concatenate(keep))


# ----------------------------------------------------------------------------- splits


@dataclass
class Splits:
    """Which split trains, which validates and which tests; ``carved`` when validation came out of training."""

    train: Split
    val: Split | None
    test: Split | None
    carved: bool = False
    val_fraction: float = 0.0
    train_name: str = ""

    @property
    def how(self) -> str:
        """For the log: where the validation images came from."""
        if self.carved:
            return f"validation carved from {self.train_name} ({self.val_fraction:.0%})"
        return "given splits"

    def validation_text(self, val_split: str) -> str:
        """For the card: the validation split's name, or how it was carved."""
        return self.how if self.carved else val_split

    @property
    def report_split(self) -> Split | None:
        """The split the report is about: test, else the held-out validation images."""
        return self.test if self.test is not None else self.val


def pick_splits(ds: Dataset, cfg: TrainConfig) -> Splits:
    """Training, validation and test splits; carve validation out of training when absent."""
    names = list(ds.splits)
    train = ds.split(cfg.train_split) if cfg.train_split in ds.splits or len(names) > 1 else ds.split(None)
    val, test = _optional_split(ds, cfg.val_split), _optional_split(ds, cfg.test_split)
    if test is train:
        test = None
    if val is not None and val is not train:
        return Splits(train, val, test)
    rng = np.random.default_rng(cfg.seed)
    order = rng.permutation(len(train))
    n_val = max(1, int(round(len(train) * cfg.val_fraction))) if len(train) > 4 else 0
    val_idx, train_idx = np.sort(order[:n_val]), np.sort(order[n_val:])
    carved_val = _subset(train, val_idx, "validation") if n_val else None
    return Splits(_subset(train, train_idx, train.name), carved_val, test, carved=True,
                  val_fraction=cfg.val_fraction, train_name=cfg.train_split)


def _optional_split(ds: Dataset, name: str) -> Split | None:
    try:
        return ds.split(name)
    except DatasetError:
        return None


def _subset(split: Split, idx: np.ndarray, name: str) -> Split:
    return Split(
        name=name,
        labels=split.labels[idx],
        array=split.array[idx] if split.array is not None else None,
        paths=[split.paths[i] for i in idx] if split.paths is not None else None,
        transform=split.transform,
        targets=split.targets[idx] if split.targets is not None else None,
        rows=split.rows[idx] if split.rows is not None else None,
    )


def data_fingerprint(class_names: list[str], train: Split, val: Split | None) -> str:
    """Changes when the images change (files added, moved, deleted), so a stale checkpoint is not resumed."""
    h = hashlib.sha1(json.dumps(class_names).encode())
    for split in (train, val):
        if split is None:
            continue
        h.update(f"{split.name}:{len(split)}:".encode())
        h.update(np.ascontiguousarray(split.labels).tobytes())
        if split.paths is not None:
            h.update("\n".join(str(p) for p in split.paths).encode())
    return h.hexdigest()


# ----------------------------------------------------------------------------- arrays


@dataclass
class TrainingData:
    """The arrays a run fits on: images, integer labels, float targets (soft where the data has them)."""

    x_train: np.ndarray
    y_train: np.ndarray
    targets: np.ndarray  # (N, classes) float32: FER+ vote distributions, else one-hot labels
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    n_classes: int
    class_weight: dict[int, float] | None = None
    skipped: list[str] = field(default_factory=list)

    @property
    def has_val(self) -> bool:
        return self.x_val is not None and len(self.x_val) > 0

    def val_targets(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Validation images and their one-hot targets, or None without validation images."""
        if not self.has_val or self.x_val is None or self.y_val is None:
            return None
        return self.x_val, one_hot(self.y_val, self.n_classes)


def load_arrays(splits: Splits, cfg: TrainConfig, n_classes: int, size: tuple[int, int],
                color_mode: str) -> TrainingData:
    """The training and validation images as arrays (unreadable files skipped and counted)."""
    skipped: list[str] = []

    def skip(i: int, exc: Exception) -> None:
        skipped.append(str(exc))

    x_train, y_train = split_to_arrays(splits.train, size, color_mode, skip)
    soft = splits.train.targets
    if soft is not None and len(soft) != len(y_train):
        soft = None
    if cfg.max_per_class:
        keep = cap_per_class(y_train, cfg.max_per_class, cfg.seed)
        x_train, y_train = x_train[keep], y_train[keep]
        soft = soft[keep] if soft is not None else None
    x_val, y_val = (split_to_arrays(splits.val, size, color_mode, skip)
                    if splits.val is not None else (None, None))
    if len(x_train) == 0:
        raise ValueError(f"{cfg.data}: no training images")
    targets = soft.astype("float32") if soft is not None else one_hot(y_train, n_classes)
    cw = class_weights(y_train, n_classes, cfg.class_weight)
    return TrainingData(x_train, y_train, targets, x_val, y_val, n_classes, cw, skipped)


def tf_dataset(x: np.ndarray, y: np.ndarray, batch: int, shuffle: bool, seed: int) -> Any:
    """A batched ``tf.data`` pipeline over arrays (shuffled each epoch when training)."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((x, y.astype("float32")))
    if shuffle:
        ds = ds.shuffle(min(len(x), 20000), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch).prefetch(2)


def fit_inputs(train: tuple[np.ndarray, np.ndarray], val: tuple[np.ndarray, np.ndarray] | None,
               batch: int, seed: int) -> dict[str, Any]:
    """``model.fit``'s data arguments for the running Keras backend.

    TensorFlow gets ``tf.data`` pipelines (its fastest feed on the CPU); other backends (PyTorch on a
    lent GPU machine, where TensorFlow is not installed) get the arrays, shuffled by Keras each epoch.
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        return {"x": tf_dataset(*train, batch, shuffle=True, seed=seed),
                "validation_data": tf_dataset(*val, batch, shuffle=False, seed=0) if val is not None else None}
    val_data = (val[0], val[1].astype("float32")) if val is not None else None
    return {"x": train[0], "y": train[1].astype("float32"), "batch_size": batch, "shuffle": True,
            "validation_data": val_data, "validation_batch_size": batch}


__all__ = ["Splits", "TrainingData", "cap_per_class", "class_weights", "data_fingerprint", "load_arrays",
           "fit_inputs", "pick_splits", "split_to_arrays", "tf_dataset"]
