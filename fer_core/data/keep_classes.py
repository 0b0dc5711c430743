"""Keeping a starting model's other classes when it is fine-tuned on own captures.

Why: a model fine-tuned on captures knows exactly the captured classes. A user who captured
fear, happy, sad and a new "wink" would silently lose angry, disgust, surprise and neutral.
To keep them, the training folder gets, beside the user's captures, some faces of each
missing class from a face dataset (FER2013's ``.npz`` in ``../shared``, or a user's image
folders): ``build_training_folder`` writes that folder, ``plan_keep`` says beforehand which
classes can be kept and which the dataset lacks (FER2013 has no ``contempt``).

Faces come from the dataset's Training split only (the other splits stay unseen for the
evaluations that use them), sampled with a fixed seed, so the same captures give the same
folder. They are written into a fresh folder the caller owns and removes (``kept_folder``
does both): never into the captures folder, never into the checkout.
"""

from __future__ import annotations

import logging
import shutil
import statistics
import tempfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fer_core.data import curation
from fer_core.data.datasets import UNLABELLED_FOLDERS, Dataset, Split, load_dataset
from fer_core.data.imageio import IMAGE_EXTENSIONS
from fer_core.data.labels import FER2013_CLASSES, canonical_class
from fer_core.errors import DatasetError
from fer_core.paths import is_within, safe_join

log = logging.getLogger(__name__)

MIN_PER_CLASS = 50  # fewer faces than this barely hold a class against a few hundred captures
MAX_PER_CLASS = 300  # more would drown the user's own pictures (and slow a CPU training)
TRAINING = "Training"
_TRAIN_FOLDERS = ("training", "train")


@dataclass(frozen=True)
class FaceSource:
    """A dataset that can lend faces: where it is, what to call it, and the classes it has."""

    path: Path
    label: str  # "FER2013", or the folder's name for a user's dataset
    classes: tuple[str, ...]  # canonical class names


@dataclass(frozen=True)
class KeepPlan:
    """What keeping the starting model's other classes means for one set of captures."""

    missing: tuple[str, ...]  # the starting model's classes the captures lack
    kept: tuple[str, ...]  # of those, the ones the source has faces of
    lacking: tuple[str, ...]  # of those, the ones the source has none of (they are still dropped)
    per_class: int  # faces added for each kept class
    source: FaceSource | None = None
    seed: int = 0

    def as_extra(self) -> dict[str, Any]:
        """The plan as plain JSON values (a ``TrainConfig.extra`` entry the training job reads back)."""
        return {"source": "" if self.source is None else str(self.source.path),
                "source_label": "" if self.source is None else self.source.label,
                "classes": list(self.kept), "per_class": self.per_class, "seed": self.seed}


@dataclass
class BuiltFolder:
    """A training folder as written: images per class, and which of them came from the source."""

    root: Path
    counts: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)  # source faces per kept class


def find_source(path: str | Path | None) -> FaceSource | None:
    """The face dataset at ``path`` if it can lend faces (a quick look, no images read), else None.

    Why cheap: the Teach page asks on every run. An ``.npz`` is a zip whose ``class_names``
    member is read alone; a folder's class names are its (training) subfolders.
    """
    if path is None or not str(path).strip():
        return None
    p = Path(path).expanduser()
    try:
        if p.is_dir():
            classes = _folder_classes(p)
            return FaceSource(p, p.name, classes) if classes else None
        if p.is_file() and p.suffix.lower() == ".npz":
            return _npz_source(p)
        if p.is_file() and p.suffix.lower() == ".csv":
            return FaceSource(p, "FER2013", FER2013_CLASSES)
    except (OSError, ValueError, KeyError) as exc:
        log.warning("%s cannot lend faces: %s", p, exc)
    return None


def _npz_source(p: Path) -> FaceSource | None:
    with np.load(p, allow_pickle=False) as data:
        if not {"images", "labels"} <= set(data.files):
            return None
        names = data["class_names"] if "class_names" in data.files else FER2013_CLASSES
        classes = tuple(canonical_class(str(c)) for c in names)
    return FaceSource(p, "FER2013" if classes == FER2013_CLASSES else p.stem, classes)


def _folder_classes(root: Path) -> tuple[str, ...]:
    """Class folders with at least one image: ``root/<class>/`` or ``root/<train>/<class>/``."""
    subdirs = [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")]
    train = next((d for d in subdirs if d.name.lower() in _TRAIN_FOLDERS), None)
    class_dirs = [d for d in sorted(train.iterdir()) if d.is_dir()] if train is not None else subdirs
    found: list[str] = []
    for d in class_dirs:
        name = canonical_class(d.name)
        if name not in UNLABELLED_FOLDERS and name not in found and _has_image(d):
            found.append(name)
    return tuple(found)


def _has_image(folder: Path) -> bool:
    return any(f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith(".") for f in folder.iterdir())


def default_per_class(capture_counts: Mapping[str, int]) -> int:
    """About as many faces per kept class as the user has pictures per class (median), 50 to 300."""
    counts = list(curation.trainable_counts(dict(capture_counts)).values())
    middle = int(statistics.median(counts)) if counts else MIN_PER_CLASS
    return max(MIN_PER_CLASS, min(MAX_PER_CLASS, middle))


def plan_keep(model_classes: Sequence[str], capture_counts: Mapping[str, int], source: FaceSource | None,
              per_class: int | None = None, seed: int = 0) -> KeepPlan:
    """Which of the starting model's classes the captures lack, and which of those ``source`` can supply."""
    missing = tuple(curation.dropped_classes(list(model_classes), dict(capture_counts)))
    have = set(source.classes) if source is not None else set()
    kept = tuple(c for c in missing if canonical_class(c) in have)
    lacking = tuple(c for c in missing if c not in kept)
    n = default_per_class(capture_counts) if per_class is None else int(per_class)
    if n < 1:
        raise ValueError("faces per kept class must be 1 or more")
    return KeepPlan(missing, kept, lacking, n, source, seed)


# ----------------------------------------------------------------------------- building the folder


def build_training_folder(captures: str | Path, source: str | Path, classes: Sequence[str], per_class: int,
                          dest: str | Path, seed: int = 0) -> BuiltFolder:
    """Write ``dest/<class>/*``: copies of the user's captures plus ``per_class`` source faces of each of ``classes``.

    ``dest`` must be new or empty and outside the captures and the source; on any error it is
    removed again, so a failed build leaves nothing behind. Faces come from the source's
    Training split (or its only split), a seeded sample per class, in source order.
    """
    root, out = Path(captures), Path(dest)
    for other in (root, Path(source)):
        if is_within(other, out):
            raise ValueError(f"{out} lies inside {other}: the training folder must be a folder of its own")
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise ValueError(f"{out} is not empty")
    try:
        built = BuiltFolder(out)
        built.counts.update(_copy_captures(root, out))
        ds = load_dataset(source)
        split = _training_split(ds)
        for cls in classes:
            if cls in built.counts:
                continue  # the user has pictures of it: nothing to keep
            n = _add_faces(ds, split, canonical_class(cls), per_class, safe_join(out, cls), seed)
            if n:
                built.added[cls] = built.counts[cls] = n
            else:
                log.warning("%s has no %s faces in its %s split; %s is not kept", ds.source, cls, split.name, cls)
    except BaseException:
        shutil.rmtree(out, ignore_errors=True)
        raise
    log.info("training folder %s: %s (added from %s: %s)", out, built.counts, source, built.added)
    return built


@contextmanager
def kept_folder(captures: str | Path, source: str | Path, classes: Sequence[str], per_class: int,
                seed: int = 0, parent: str | Path | None = None) -> Iterator[BuiltFolder]:
    """``build_training_folder`` into a fresh temporary folder (under ``parent``), removed on leaving.

    The folder inside takes the captures folder's name: the model's card records the data it was
    trained on, and its report is filed under that name (``reports.report_key``) as without keeping.
    """
    work = Path(tempfile.mkdtemp(prefix="fer-keep-", dir=None if parent is None else str(parent)))
    try:
        yield build_training_folder(captures, source, classes, per_class, work / (Path(captures).name or "data"),
                                    seed)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _copy_captures(root: Path, out: Path) -> dict[str, int]:
    """Copy every labelled capture (never ``unsorted``, hidden folders or links) into ``out/<class>/``."""
    counts: dict[str, int] = {}
    for cls in curation.class_names(root):
        if cls == curation.UNSORTED:
            continue
        items = curation.list_items(root, cls, newest_first=False)
        if not items:
            continue
        folder = safe_join(out, cls)
        folder.mkdir()
        for item in items:
            shutil.copyfile(item.path, folder / item.name)
        counts[cls] = len(items)
    return counts


def _training_split(ds: Dataset) -> Split:
    """The split faces are lent from: Training (or ``train/``), or the only split of an unsplit dataset."""
    if len(ds.splits) == 1 and next(iter(ds.splits)) == "all":
        return ds.splits["all"]
    try:
        return ds.split(TRAINING)
    except DatasetError:
        raise DatasetError(f"{ds.source}: no Training split to take faces from "
                           f"(have: {', '.join(ds.splits)})") from None


def _sample(indices: np.ndarray, n: int, seed: int, cls: str) -> np.ndarray:
    """``n`` of ``indices`` (all when fewer), the same ones for the same seed and class, in source order."""
    if len(indices) <= n:
        return indices
    rng = np.random.default_rng([seed, zlib.crc32(cls.encode())])
    return np.sort(rng.choice(indices, size=n, replace=False))


def _add_faces(ds: Dataset, split: Split, cls: str, n: int, folder: Path, seed: int) -> int:
    if cls not in ds.class_names:
        return 0
    rows = np.flatnonzero(split.labels == ds.class_names.index(cls))
    chosen = _sample(rows, n, seed, cls)
    if not len(chosen):
        return 0
    folder.mkdir()
    for i in chosen:
        if split.array is not None:
            row = int(split.rows[i]) if split.rows is not None else int(i)
            Image.fromarray(np.ascontiguousarray(split.array[i])).save(folder / f"{split.name}-{row:06d}.png")
        else:
            assert split.paths is not None
            src = split.paths[int(i)]
            shutil.copyfile(src, folder / f"{int(i):06d}-{src.name}")
    return len(chosen)


__all__ = ["BuiltFolder", "FaceSource", "KeepPlan", "MAX_PER_CLASS", "MIN_PER_CLASS", "build_training_folder",
           "default_per_class", "find_source", "kept_folder", "plan_keep"]
