"""What the dataset page shows: counts per class and split, image sizes, thumbnail pages.

Why: looking at the data (balance, sizes, examples of each class) comes before trusting
a model trained on it; this keeps that logic testable and out of the page.
"""

from __future__ import annotations

import collections
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from fer_core.data.datasets import Dataset, Split
from fer_core.errors import DatasetError, ImageError
from fer_core.paths import is_within

GET_A_DATASET = (
    "Point the path at one of:\n"
    "- the FER2013 **.npz** (arrays `images`, `labels`, `usage`, `class_names`), e.g. "
    "`../shared/data/fer2013/fer2013.npz`;\n"
    "- Kaggle's **fer2013.csv** (columns `emotion`, `pixels`, `Usage`), from "
    "https://www.kaggle.com/datasets/msambare/fer2013 or the original challenge page;\n"
    "- an **image folder**: `root/<class>/*.jpg` or `root/<split>/<class>/*.jpg` "
    "(jpg, jpeg, png, webp, bmp; class folders such as `happy`, `sad`, `Happiness` are recognised).\n\n"
    "The environment variable `FER_DATASET_PATH` sets the default path."
)


@dataclass
class DatasetSummary:
    """Counts and sizes, in plain structures for tables and charts."""

    source: str
    kind: str  # npz | csv | folder
    class_names: list[str]
    counts: dict[str, dict[str, int]]  # split -> class -> images
    totals: dict[str, int]  # split -> images
    sizes: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # split -> [("48×48", n)]
    sampled: dict[str, int] = field(default_factory=dict)  # split -> images looked at for sizes

    @property
    def total(self) -> int:
        return sum(self.totals.values())

    def counts_rows(self) -> list[dict[str, Any]]:
        """Long format ``{split, class, count}`` for a grouped bar chart."""
        return [{"split": s, "class": c, "count": n} for s, per in self.counts.items() for c, n in per.items()]

    def imbalance(self) -> float | None:
        """Largest over smallest non-empty class count across all splits (``None`` if undefined)."""
        per_class: collections.Counter[str] = collections.Counter()
        for per in self.counts.values():
            per_class.update(per)
        values = [v for v in per_class.values() if v > 0]
        return max(values) / min(values) if values else None


def dataset_roots(dataset_path: str | Path | None, capture_root: str | Path,
                  extra: tuple[Path, ...] | list[Path] = ()) -> list[Path]:
    """The folders the Dataset page may read, each named in a setting: the configured dataset's own
    folder, the visit's captures, and ``FER_DATASET_ROOTS`` (``extra``).

    Why: the page's path box runs on the server; without a bound it would list any folder the
    server can read. Nothing is derived beyond the dataset's own folder: one level up may hold
    other owners' captures, or be ``/``.
    """
    roots: list[Path] = []
    if dataset_path:
        p = Path(dataset_path).expanduser()
        roots.append(p if p.is_dir() else p.parent)
    roots.append(Path(capture_root).expanduser())
    return roots + [Path(r).expanduser() for r in extra]


def check_within_roots(path: str | Path, roots: list[Path]) -> Path:
    """``path`` when it lies under one of ``roots`` (links and ``..`` resolved), else a one-line ``DatasetError``
    that names no server folder (the roots are the server's business)."""
    p = Path(path).expanduser()
    if any(is_within(root, p) for root in roots):
        return p
    raise DatasetError(f"{path} is outside the dataset folders this app reads: the configured dataset's folder, "
                       "your captures, and any folder in the setting FER_DATASET_ROOTS.")


def dataset_kind(path: str | Path) -> str:
    p = Path(path)
    return "folder" if p.is_dir() else p.suffix.lower().lstrip(".")


def dataset_stamp(path: str | Path) -> float:
    """A number that changes when the dataset changes (file mtime; for folders the newest of the
    folder and its class/split folders), for cache keys."""
    p = Path(path).expanduser()
    try:
        if not p.is_dir():
            st = p.stat()
            return st.st_mtime + st.st_size * 1e-9
        newest = p.stat().st_mtime
        for level1 in os.scandir(p):
            if level1.is_dir():
                newest = max(newest, level1.stat().st_mtime)
                for level2 in os.scandir(level1.path):
                    if level2.is_dir():
                        newest = max(newest, level2.stat().st_mtime)
        return newest
    except OSError:
        return 0.0


def image_sizes(split: Split, sample: int = 200, seed: int = 0) -> tuple[list[tuple[str, int]], int]:
    """The most common ``W×H`` sizes among up to ``sample`` images, and how many were looked at.

    Array splits have one size; folder splits are sampled (unreadable files counted as ``unreadable``).
    """
    n = len(split)
    if n == 0:
        return [], 0
    if split.array is not None:
        h, w = split.array.shape[1:3]
        return [(f"{w}×{h}", n)], n
    rng = np.random.default_rng(seed)
    idx = rng.choice(n, size=min(sample, n), replace=False) if n > sample else np.arange(n)
    counter: collections.Counter[str] = collections.Counter()
    for i in idx:
        try:

            with Image.open(split.paths[int(i)]) as img:  # type: ignore[index]
                counter[f"{img.width}×{img.height}"] += 1
        except Exception:  # noqa: BLE001 - any unreadable file is counted, never fatal
            counter["unreadable"] += 1
    return counter.most_common(), len(idx)


def summarize(ds: Dataset, size_sample: int = 200) -> DatasetSummary:
    """Counts per split and class, totals, and image sizes of a loaded dataset."""
    counts = ds.counts()
    summary = DatasetSummary(source=ds.source, kind=dataset_kind(ds.source) if ds.source else "",
                             class_names=list(ds.class_names), counts=counts,
                             totals={s: int(sum(per.values())) for s, per in counts.items()})
    for name, split in ds.splits.items():
        summary.sizes[name], summary.sampled[name] = image_sizes(split, size_sample)
    return summary


def class_indices(split: Split, class_index: int) -> np.ndarray:
    """Positions in ``split`` of the images labelled ``class_index``."""
    return np.flatnonzero(split.labels == class_index)


def page_count(n: int, per_page: int) -> int:
    """Pages needed for ``n`` items (at least 1)."""
    return max(1, math.ceil(n / max(1, per_page)))


CAPTION_CHARS = 12  # what one line under a 96 px thumbnail holds


def short_name(name: str, limit: int = CAPTION_CHARS) -> str:
    """``name`` in at most ``limit`` characters, cut in the middle (``fer_0…0167.png``).

    Why: a caption that wraps breaks a name mid-word ("…167.pn / g"), and one cut at its end
    makes captures of the same minute look alike ("20261126-004…"); the end of a file name (its
    number, its extension) is what tells neighbours apart, so most of it is kept.
    """
    if len(name) <= limit:
        return name
    head = max(1, (limit - 1) // 3)
    return name[:head] + "…" + name[-(limit - 1 - head):]


@dataclass
class Thumb:
    """One thumbnail: the image (``None`` when unreadable) and a caption."""

    index: int
    image: np.ndarray | None
    caption: str
    error: str | None = None


def thumbnails(split: Split, class_index: int, page: int = 1, per_page: int = 24) -> list[Thumb]:
    """The ``page``-th (1-based) page of images of one class; unreadable files become captioned gaps."""
    idx = class_indices(split, class_index)
    page = min(max(1, page), page_count(len(idx), per_page))
    out: list[Thumb] = []
    for i in idx[(page - 1) * per_page: page * per_page]:
        i = int(i)
        caption = short_name(Path(split.source(i)).name) if split.paths is not None else f"#{i}"
        try:
            out.append(Thumb(i, split.image(i), caption))
        except ImageError as exc:
            out.append(Thumb(i, None, caption, error=str(exc)))
    return out


__all__ = ["CAPTION_CHARS", "DatasetSummary", "GET_A_DATASET", "Thumb", "class_indices", "dataset_kind",
           "dataset_stamp", "image_sizes", "page_count", "short_name", "summarize", "thumbnails"]
