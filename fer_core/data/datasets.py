"""Datasets: FER2013 (our ``.npz`` and Kaggle's CSV) and image folders, behind one shape.

Why: training, evaluation and the dataset page all need "images with class labels, per
split"; where they come from (npz, CSV, ``root/<class>/*`` or ``root/<split>/<class>/*``)
should not matter to them.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fer_core.data import ferplus
from fer_core.data.imageio import IMAGE_EXTENSIONS, read_image
from fer_core.data.labels import FER2013_CLASSES, canonical_class
from fer_core.data.packed import decode_images, is_packed
from fer_core.errors import DatasetError, ImageError

log = logging.getLogger(__name__)

FER2013_SPLITS: tuple[str, ...] = ("Training", "PublicTest", "PrivateTest")
# Folders of images that wait for a label (the capture page's auto-label mode fills ``unsorted/``):
# not a class, so never trained on or evaluated.
UNLABELLED_FOLDERS: frozenset[str] = frozenset({"unsorted"})
_SPLIT_ALIASES = {
    "train": "Training",
    "training": "Training",
    "val": "PublicTest",
    "valid": "PublicTest",
    "validation": "PublicTest",
    "publictest": "PublicTest",
    "test": "PrivateTest",
    "privatetest": "PrivateTest",
}


@dataclass
class Split:
    """One split: labels plus either an in-memory array or a list of image files."""

    name: str
    labels: np.ndarray
    array: np.ndarray | None = None  # (N, H, W) gray or (N, H, W, 3) RGB uint8
    paths: list[Path] | None = None
    transform: Callable[[np.ndarray], np.ndarray] | None = None  # e.g. crop to the largest face (inference.preprocess)
    targets: np.ndarray | None = None  # (N, classes) soft targets (FER+ vote distributions), else None
    rows: np.ndarray | None = None  # each image's row in the source file (aligns FER+ votes), else None
    left_out: int = 0  # images of this split that the label protocol dropped (FER+: no usable majority)

    def __len__(self) -> int:
        return int(len(self.labels))

    def image(self, index: int) -> np.ndarray:
        """The image at ``index``: gray ``(H, W)`` or RGB ``(H, W, 3)`` uint8 (after ``transform``)."""
        if self.array is not None:
            img = self.array[index]
        else:
            assert self.paths is not None
            img = read_image(self.paths[index])
        return self.transform(img) if self.transform is not None else img

    def source(self, index: int) -> str:
        """A printable origin of one image (file path or ``split[index]``)."""
        if self.paths is not None:
            return str(self.paths[index])
        return f"{self.name}[{index}]"


@dataclass
class Dataset:
    """Class names in label order and the splits that use them."""

    class_names: list[str]
    splits: dict[str, Split] = field(default_factory=dict)
    source: str = ""

    def split(self, name: str | None) -> Split:
        """Return a split by name or alias (``test`` -> ``PrivateTest``); ``None`` takes the only or test split."""
        if name is None:
            if len(self.splits) == 1:
                return next(iter(self.splits.values()))
            for candidate in ("PrivateTest", "test", "all"):
                if candidate in self.splits:
                    return self.splits[candidate]
            raise DatasetError(f"{self.source}: several splits ({', '.join(self.splits)}); pick one")
        if name in self.splits:
            return self.splits[name]
        alias = _SPLIT_ALIASES.get(name.lower())
        if alias and alias in self.splits:
            return self.splits[alias]
        for key in self.splits:
            if _SPLIT_ALIASES.get(key.lower()) == _SPLIT_ALIASES.get(name.lower(), name):
                return self.splits[key]
        raise DatasetError(f"{self.source}: no split named {name!r} (have: {', '.join(self.splits)})")

    def counts(self) -> dict[str, dict[str, int]]:
        """Images per class per split, for charts and balance warnings."""
        out: dict[str, dict[str, int]] = {}
        for name, split in self.splits.items():
            binc = np.bincount(split.labels.astype(np.int64), minlength=len(self.class_names))
            out[name] = {c: int(n) for c, n in zip(self.class_names, binc)}
        return out


def load_dataset(path: str | Path, labels: str = "fer2013", targets: str = "crossentropy",
                 fer2013_weight: float = 0.0, vote_weight: float = 0.0) -> Dataset:
    """Load a dataset from an ``.npz``, a Kaggle ``.csv`` or an image folder tree.

    ``labels`` is ``fer2013`` (the file's own labels), ``ferplus`` (the FER+ votes beside FER2013) or the
    path of a votes file; ``targets`` says how FER+ votes become training targets, and
    ``fer2013_weight`` what share of them FER2013's own label takes (``ferplus.blend_original``).
    ``vote_weight`` goes the other way: FER2013's own labels, smoothed by that share of the FER+
    votes beside them (``ferplus.smooth_with_votes``).
    """
    if vote_weight:
        if labels != "fer2013":
            raise DatasetError("FER+ votes smooth FER2013's own labels only (--labels fer2013); "
                               "with FER+ labels the targets are the votes already")
        return with_vote_smoothing(load_dataset(path), vote_weight)
    if labels != "fer2013":
        return with_ferplus_labels(load_dataset(path), labels, targets, fer2013_weight)
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetError(f"{p}: no such dataset file or folder")
    if p.is_dir():
        return load_folder(p)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        return load_npz(p)
    if suffix == ".csv":
        return load_csv(p)
    raise DatasetError(f"{p}: not a dataset (expected .npz, .csv or a folder of class folders)")


def with_ferplus_labels(ds: Dataset, labels: str, targets: str = "crossentropy",
                        fer2013_weight: float = 0.0) -> Dataset:
    """FER2013 relabelled by FER+ votes: eight classes; faces without a usable vote left out.

    The training split takes ``targets`` (vote distributions or majority labels, blended with
    ``fer2013_weight`` of the original label when that is above 0); every other split takes the
    majority protocol, so validation and test figures match the paper's.
    """

    if fer2013_weight and targets != "crossentropy":
        raise DatasetError("FER2013's own labels blend into vote distributions only (targets 'crossentropy')")
    votes_file = ferplus.votes_path_beside(ds.source) if labels == "ferplus" else Path(labels)
    votes = aligned_votes(ds, votes_file)
    out = Dataset(class_names=list(ferplus.FERPLUS_CLASSES), source=f"{ds.source} [FER+ votes: {votes_file.name}]")
    for name, split in ds.splits.items():
        assert split.rows is not None and split.array is not None
        keep, hard, soft = ferplus.ferplus_splits(votes[split.rows], name in ("Training", "all"), targets)
        if soft is not None and fer2013_weight > 0:
            soft = ferplus.blend_original(soft, split.labels[keep], fer2013_weight)
            hard = soft.argmax(axis=1).astype(np.int64)
        out.splits[name] = Split(name, hard, array=split.array[keep], targets=soft, rows=split.rows[keep],
                                 left_out=len(split) - len(keep))
    return out


def aligned_votes(ds: Dataset, votes_file: Path) -> np.ndarray:
    """The FER+ votes for every row of FER2013's ``.npz`` (``split.rows`` index them); ``DatasetError`` for any
    other dataset, whose rows the votes do not describe."""
    if any(s.rows is None or s.array is None for s in ds.splits.values()) or ds.class_names != list(FER2013_CLASSES):
        raise DatasetError(f"{ds.source}: FER+ votes are aligned to FER2013's .npz only, not to this dataset")
    return ferplus.load_votes(votes_file, n_rows=sum(len(s) for s in ds.splits.values()))


def with_vote_smoothing(ds: Dataset, weight: float) -> Dataset:
    """FER2013 with its own labels, the training split's targets smoothed by the FER+ votes beside it.

    Every face is kept and every label stays FER2013's; only the training targets change, so
    validation and test figures remain the classic benchmark's.
    """
    votes_file = ferplus.votes_path_beside(ds.source)
    votes = aligned_votes(ds, votes_file)
    out = Dataset(class_names=list(ds.class_names), source=f"{ds.source} [smoothed by FER+ votes: {votes_file.name}]")
    for name, split in ds.splits.items():
        assert split.rows is not None
        targets = None
        if name in ("Training", "all"):
            targets = ferplus.smooth_with_votes(split.labels, votes[split.rows], weight, len(ds.class_names))
        out.splits[name] = Split(name, split.labels, array=split.array, targets=targets, rows=split.rows)
    return out


def load_npz(path: str | Path) -> Dataset:
    """Read the FER2013 ``.npz`` layout (images, labels, usage, class_names, usage_names), plain or
    packed as JPEG bytes (``fer_core.data.packed``)."""
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as data:
            packed = is_packed(data.files)
            missing = {"labels"} - set(data.files) if packed else {"images", "labels"} - set(data.files)
            if missing:
                raise DatasetError(f"{p}: missing arrays {sorted(missing)}")
            images = decode_images(data, p) if packed else np.asarray(data["images"], dtype=np.uint8)
            labels = np.asarray(data["labels"], dtype=np.int64)
            class_names = (
                [canonical_class(str(c)) for c in data["class_names"]]
                if "class_names" in data.files
                else list(FER2013_CLASSES)
            )
            usage = np.asarray(data["usage"], dtype=np.int64) if "usage" in data.files else None
            usage_names = (
                [str(u) for u in data["usage_names"]] if "usage_names" in data.files else list(FER2013_SPLITS)
            )
    except DatasetError:
        raise
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{p}: not a readable .npz dataset ({exc})") from None
    if len(images) != len(labels):
        raise DatasetError(f"{p}: {len(images)} images but {len(labels)} labels")
    ds = Dataset(class_names=class_names, source=str(p))
    if usage is None:
        ds.splits["all"] = Split("all", labels, array=images, rows=np.arange(len(labels)))
        return ds
    for index, split_name in enumerate(usage_names):
        mask = usage == index
        if mask.any():
            ds.splits[split_name] = Split(split_name, labels[mask], array=images[mask], rows=np.flatnonzero(mask))
    return ds


def load_csv(path: str | Path) -> Dataset:
    """Read Kaggle's ``fer2013.csv`` (``emotion,pixels,Usage``; pixels are 48*48 numbers)."""
    p = Path(path)
    per_split: dict[str, tuple[list[np.ndarray], list[int]]] = {}
    try:
        with p.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = {f.strip().lower(): f for f in (reader.fieldnames or [])}
            if "emotion" not in fields or "pixels" not in fields:
                raise DatasetError(f"{p}: a FER2013 CSV needs 'emotion' and 'pixels' columns")
            usage_key = fields.get("usage")
            for row_no, row in enumerate(reader, start=2):
                try:
                    pixels = np.array(row[fields["pixels"]].split(), dtype=np.float32)
                    side = int(round(len(pixels) ** 0.5))
                    if side * side != len(pixels) or side == 0:
                        raise ValueError(f"{len(pixels)} pixels is not a square image")
                    image = np.clip(pixels, 0, 255).astype(np.uint8).reshape(side, side)
                    label = int(row[fields["emotion"]])
                    if not 0 <= label < len(FER2013_CLASSES):
                        raise ValueError(f"emotion {label} out of range")
                except (ValueError, AttributeError) as exc:
                    raise DatasetError(f"{p}: row {row_no}: {exc}") from None
                split = (row.get(usage_key) or "all").strip() if usage_key else "all"
                images, labels = per_split.setdefault(split, ([], []))
                images.append(image)
                labels.append(label)
    except DatasetError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DatasetError(f"{p}: not a readable CSV ({exc})") from None
    if not per_split:
        raise DatasetError(f"{p}: the CSV has no rows")
    ds = Dataset(class_names=list(FER2013_CLASSES), source=str(p))
    for split, (images, labels) in per_split.items():
        shapes = {im.shape for im in images}
        if len(shapes) != 1:
            raise DatasetError(f"{p}: images of several sizes in split {split}")
        ds.splits[split] = Split(split, np.array(labels, dtype=np.int64), array=np.stack(images))
    return ds


def _images_in(folder: Path) -> list[Path]:
    return sorted(
        f for f in folder.iterdir()
        if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".")
    )


def _subdirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def load_folder(root: str | Path, class_names: Sequence[str] | None = None) -> Dataset:
    """Read ``root/<class>/*`` or ``root/<split>/<class>/*`` (jpg, png, webp, bmp).

    Class folder names are matched with synonyms (``Happiness`` -> ``happy``). With
    ``class_names`` given, that order is kept and unknown folders are skipped.
    """
    p = Path(root)
    if not p.is_dir():
        raise DatasetError(f"{p}: not a folder")
    subdirs = _subdirs(p)
    if not subdirs:
        raise DatasetError(f"{p}: no class folders inside (expected root/<class>/image.jpg)")
    flat = any(_images_in(d) for d in subdirs)
    layout: dict[str, Path] = {"all": p} if flat else {d.name: d for d in subdirs}
    found: dict[str, dict[str, list[Path]]] = {}
    for split_name, split_dir in layout.items():
        for class_dir in _subdirs(split_dir):
            if canonical_class(class_dir.name) in UNLABELLED_FOLDERS:
                continue
            files = _images_in(class_dir)
            found.setdefault(split_name, {}).setdefault(canonical_class(class_dir.name), []).extend(files)
    names = list(class_names) if class_names is not None else _ordered_classes(
        {c for per in found.values() for c, files in per.items() if files}
    )
    if not names:
        raise DatasetError(f"{p}: no images found in class folders")
    index = {c: i for i, c in enumerate(names)}
    ds = Dataset(class_names=names, source=str(p))
    for split_name, per_class in found.items():
        paths: list[Path] = []
        labels: list[int] = []
        for cls, files in per_class.items():
            if cls not in index:
                log.info("%s: class folder %r is not one of the model's classes; skipped", p, cls)
                continue
            paths.extend(files)
            labels.extend([index[cls]] * len(files))
        if paths:
            ds.splits[split_name] = Split(split_name, np.array(labels, dtype=np.int64), paths=paths)
    if not ds.splits:
        raise DatasetError(f"{p}: no images found in class folders")
    return ds


def _ordered_classes(found: set[str]) -> list[str]:
    """FER2013 classes first in their usual order, then any others alphabetically."""
    known = [c for c in FER2013_CLASSES if c in found]
    return known + sorted(found - set(known))


def iter_images(
    split: Split, on_error: Callable[[int, ImageError], None] | None = None
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(index, image)``; unreadable files go to ``on_error`` instead of stopping the run."""
    for i in range(len(split)):
        try:
            yield i, split.image(i)
        except ImageError as exc:
            if on_error is None:
                raise
            on_error(i, exc)
