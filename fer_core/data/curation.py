"""Your own expression images on disk: list, count, relabel (move), delete; balance and confusion hints.

Why: captured images live as ``<root>/<class>/<file>`` (the folder layout ``load_dataset``
trains on). Every name that comes from a page (class, file) is checked and joined under the
root with ``safe_join``, so nothing outside the capture root is ever listed, moved or deleted;
symlinks are never followed (a link inside the root could point anywhere).

A capture may keep its full camera frame beside the crop at ``<root>/.frames/<class>/<file>``
(a hidden folder, so datasets skip it); relabel and delete keep the two together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core.data.imageio import IMAGE_EXTENSIONS
from fer_core.data.labels import canonical_class, validate_class_name
from fer_core.errors import FerError, PathEscapeError
from fer_core.paths import is_within, safe_join

log = logging.getLogger(__name__)

UNSORTED = "unsorted"  # auto-label mode's folder for captures below the confidence threshold
FRAMES_DIR = ".frames"  # full frames kept beside the crops (hidden: not a class)
MIN_PER_CLASS = 20  # below this a class gets a warning (personal data: a few dozen per class works)
MAX_IMBALANCE = 3.0  # largest / smallest class above this gets a warning


class CurationError(FerError):
    """A relabel or delete that cannot be done (bad name, missing file); the message says why."""


@dataclass(frozen=True)
class Item:
    """One image of a class folder."""

    class_name: str
    name: str
    path: Path
    frame: Path | None = None  # the full camera frame kept with it, if any
    mtime: float = 0.0


def class_folder_name(name: str) -> str:
    """The folder a user-given class name is stored in: validated, then canonical (``Happiness`` -> ``happy``).

    Raises ``ValueError`` for names that are empty or could be a path (``../x``, ``/etc``).
    """
    folder = canonical_class(validate_class_name(name))
    return validate_class_name(folder)


def _real_dir(root: Path, path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and is_within(root, path)


def _real_image(root: Path, path: Path) -> bool:
    return (path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")
            and path.is_file() and not path.is_symlink() and is_within(root, path))


def class_names(root: str | Path) -> list[str]:
    """Class folders under ``root`` (hidden folders and symlinks skipped), ``unsorted`` last."""
    r = Path(root)
    if not r.is_dir():
        return []
    names = [d.name for d in r.iterdir() if not d.name.startswith(".") and _valid(d.name) and _real_dir(r, d)]
    return sorted(names, key=lambda n: (n == UNSORTED, n.lower()))


def _valid(name: str) -> bool:
    try:
        return validate_class_name(name) == name
    except ValueError:
        return False


def _class_dir(root: Path, class_name: str) -> Path:
    try:
        validate_class_name(class_name)
    except ValueError as exc:
        raise PathEscapeError(str(exc)) from None
    folder = safe_join(root, class_name)
    if folder.is_symlink():
        raise PathEscapeError(f"{class_name!r} is a link; not followed")
    return folder


def list_items(root: str | Path, class_name: str, offset: int = 0, limit: int | None = None,
               newest_first: bool = True) -> list[Item]:
    """Images of one class (newest first by default), ``limit`` of them from ``offset`` (for paging)."""
    r = Path(root)
    folder = _class_dir(r, class_name)
    if not folder.is_dir():
        return []
    files = [f for f in folder.iterdir() if _real_image(r, f)]
    stamped = []
    for f in files:
        try:
            stamped.append((f.stat().st_mtime, f))
        except OSError:  # deleted meanwhile
            continue
    stamped.sort(key=lambda t: (t[0], t[1].name), reverse=newest_first)
    end = None if limit is None else offset + limit
    out = []
    for mtime, f in stamped[offset:end]:
        frame = r / FRAMES_DIR / class_name / f.name
        out.append(Item(class_name, f.name, f, frame if _real_image(r, frame) else None, mtime))
    return out


def counts(root: str | Path) -> dict[str, int]:
    """Images per class folder (``unsorted`` included, last)."""
    r = Path(root)
    out: dict[str, int] = {}
    for name in class_names(r):
        folder = r / name
        try:
            out[name] = sum(1 for f in folder.iterdir() if _real_image(r, f))
        except OSError as exc:
            log.warning("cannot list %s: %s", folder, exc)
            out[name] = 0
    return out


def _item_path(root: Path, class_name: str, name: str) -> Path:
    folder = _class_dir(root, class_name)
    path = safe_join(folder, name)
    if path.is_symlink():
        raise PathEscapeError(f"{class_name}/{name} is a link; not touched")
    if not path.is_file():
        raise CurationError(f"{class_name}/{name}: no such image")
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise CurationError(f"{class_name}/{name}: not an image file")
    return path


def _free_name(folder: Path, name: str) -> str:
    if not (folder / name).exists():
        return name
    stem, suffix = os.path.splitext(name)
    i = 1
    while (folder / f"{stem}-{i}{suffix}").exists():
        i += 1
    return f"{stem}-{i}{suffix}"


def move(root: str | Path, class_name: str, name: str, new_class: str) -> Path:
    """Relabel: move ``class_name/name`` (and its frame) into ``new_class`` (created if needed); new path."""
    r = Path(root)
    src = _item_path(r, class_name, name)
    try:
        target_class = class_folder_name(new_class)
    except ValueError as exc:
        raise PathEscapeError(str(exc)) from None
    if target_class == class_name:
        return src
    dst_dir = _class_dir(r, target_class)
    dst_dir.mkdir(parents=True, exist_ok=True)
    new_name = _free_name(dst_dir, name)
    dst = safe_join(dst_dir, new_name)
    os.replace(src, dst)
    frame = r / FRAMES_DIR / class_name / name
    if _real_image(r, frame):
        frame_dir = safe_join(r, FRAMES_DIR, target_class)
        frame_dir.mkdir(parents=True, exist_ok=True)
        os.replace(frame, frame_dir / new_name)
    log.info("relabelled %s/%s -> %s/%s", class_name, name, target_class, new_name)
    return dst


def delete(root: str | Path, class_name: str, name: str) -> None:
    """Delete ``class_name/name`` and its frame."""
    r = Path(root)
    path = _item_path(r, class_name, name)
    path.unlink()
    frame = r / FRAMES_DIR / class_name / name
    if _real_image(r, frame):
        frame.unlink()
    log.info("deleted %s/%s", class_name, name)


def trainable_counts(all_counts: dict[str, int]) -> dict[str, int]:
    """Only the classes a training would use (``unsorted`` and empty folders left out)."""
    return {c: n for c, n in all_counts.items() if c != UNSORTED and n > 0}


def dropped_classes(model_classes: list[str], all_counts: dict[str, int]) -> list[str]:
    """The starting model's classes that a fine-tune on these captures would not keep.

    Why: a model fine-tuned on captures knows exactly the captured classes; a user who captured
    three expressions would otherwise lose the other four without being told.
    """
    have = set(trainable_counts(all_counts))
    return [c for c in model_classes if c not in have]


def balance_warnings(all_counts: dict[str, int], min_per_class: int = MIN_PER_CLASS,
                     max_ratio: float = MAX_IMBALANCE) -> list[str]:
    """Plain-language warnings about classes too small or too unbalanced to learn well."""
    counts_ = trainable_counts(all_counts)
    warnings: list[str] = []
    if len(counts_) < 2:
        warnings.append("Training needs at least two classes with images "
                        f"(now: {', '.join(counts_) or 'none'}).")
    small = sorted((n, c) for c, n in counts_.items() if n < min_per_class)
    for n, c in small:
        warnings.append(f"'{c}' has only {n} image{'s' if n != 1 else ''}: capture at least {min_per_class} "
                        "(varied light, pose and distance) for a model that generalises.")
    if len(counts_) >= 2:
        big_c = max(counts_, key=lambda c: counts_[c])
        small_c = min(counts_, key=lambda c: counts_[c])
        ratio = counts_[big_c] / max(1, counts_[small_c])
        if ratio > max_ratio:
            warnings.append(f"Classes are unbalanced: '{big_c}' has {counts_[big_c]} images, '{small_c}' only "
                            f"{counts_[small_c]} ({ratio:.1f}×). Capture more '{small_c}' or the model will "
                            f"favour '{big_c}'.")
    if all_counts.get(UNSORTED):
        warnings.append(f"{all_counts[UNSORTED]} image(s) wait in '{UNSORTED}': relabel or delete them; "
                        "they are not trained on.")
    return warnings


def training_blocker(all_counts: dict[str, int], min_images: int = 2) -> str | None:
    """Why a training cannot start at all (fewer than two classes, a class with almost nothing), or None."""
    counts_ = trainable_counts(all_counts)
    if len(counts_) < 2:
        return "Capture images of at least two classes first."
    tiny = [c for c, n in counts_.items() if n < min_images]
    if tiny:
        return f"Every class needs at least {min_images} images ({', '.join(tiny)} has fewer)."
    return None


def confused_pairs(report: dict[str, Any], top: int = 3,
                   classes: Collection[str] | None = None) -> list[dict[str, Any]]:
    """The ``top`` (true, predicted) class pairs the model mixes up most, from ``report.json``.

    Each is ``{"true", "predicted", "count", "share"}`` where share is the fraction of the true
    class's examples that went to the predicted class; pairs never confused are left out. With
    ``classes``, only pairs whose true class is one of them (the classes a user captured).
    """
    names = report.get("class_names") or []
    cm = report.get("confusion_matrix") or []
    pairs = []
    for i, row in enumerate(cm):
        total = sum(row)
        for j, value in enumerate(row):
            if i != j and value > 0 and i < len(names) and j < len(names) and (
                    classes is None or names[i] in classes):
                pairs.append({"true": names[i], "predicted": names[j], "count": int(value),
                              "share": float(value) / total if total else 0.0})
    pairs.sort(key=lambda p: (-p["count"], -p["share"], p["true"], p["predicted"]))
    return pairs[:top]


__all__ = [
    "FRAMES_DIR", "Item", "UNSORTED", "CurationError", "balance_warnings", "class_folder_name", "class_names",
    "confused_pairs", "counts", "delete", "list_items", "move", "trainable_counts",
    "training_blocker",
]
