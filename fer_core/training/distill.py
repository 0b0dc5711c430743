"""Teachers' probabilities as training targets: a few networks distilled into one (``train --teacher``).

Why: averaging two or three networks labels faces better than any one of them, but every
member costs a model run per face, and the live page classifies ten times a second per
viewer. Training one network of the shipped size towards the teachers' averaged
probabilities (blended with the data's own targets) keeps most of the ensemble's gain at
one network's cost (Hinton et al. 2015, "Distilling the knowledge in a neural network").

The teachers label each training image once, as the app would (their cards' test-time
views), before training starts; augmentation then varies the image while the target stays.
The labels are kept in the checkpoint folder, so a resumed run does not pay for them again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from fer_core.errors import ModelError
from fer_core.inference.card import load_card, view_count
from fer_core.inference.classifier import Classifier

log = logging.getLogger(__name__)

CACHE_FILE = "teacher_targets.npz"
_CHUNK = 256


def teacher_key(teachers: list[str], fingerprint: str, class_names: list[str]) -> str:
    """Changes when a teacher's model file or views, the images (``data_fingerprint``) or the classes change."""
    h = hashlib.sha1(json.dumps([fingerprint, class_names]).encode())
    for t in teachers:
        card = load_card(t)
        model = Path(t) / card.model_file
        stat = model.stat() if model.is_file() else None
        h.update(json.dumps([str(Path(t).resolve()), card.tta, stat.st_size if stat else 0,
                             stat.st_mtime_ns if stat else 0]).encode())
    return h.hexdigest()


def class_columns(teacher_classes: list[str], class_names: list[str], teacher: str) -> np.ndarray:
    """For each of the run's classes, the teacher's column holding it (-1 where the teacher lacks it)."""
    where = {c: i for i, c in enumerate(teacher_classes)}
    cols = np.array([where.get(c, -1) for c in class_names], dtype=np.int64)
    if (cols < 0).sum() * 2 > len(class_names):
        raise ValueError(f"teacher {teacher} knows too few of the classes {', '.join(class_names)} "
                         f"(it has {', '.join(teacher_classes)})")
    return cols


def teacher_probabilities(teachers: list[str], x: np.ndarray, class_names: list[str]) -> np.ndarray:
    """The teachers' mean probabilities ``(N, len(class_names))`` for uint8 images ``x`` ``(N, H, W, C)``.

    A class a teacher lacks gets no probability from that teacher; each row sums to 1.
    """
    total = np.zeros((len(x), len(class_names)), np.float64)
    for t in teachers:
        try:
            clf = Classifier(t)
        except (ModelError, OSError) as exc:
            raise ValueError(f"teacher {t}: {exc}") from None
        cols = class_columns(clf.class_names, class_names, t)
        log.info("teacher %s labels %d training images (%d views each)", t, len(x), view_count(clf.card.tta))
        for i in range(0, len(x), _CHUNK):
            crops = [img[:, :, 0] if img.shape[-1] == 1 else img for img in x[i:i + _CHUNK]]
            probs = clf.predict(crops)
            total[i:i + len(crops)] += np.where(cols >= 0, probs[:, np.maximum(cols, 0)], 0.0)
    total /= np.maximum(total.sum(axis=1, keepdims=True), 1e-12)
    return total.astype(np.float32)


def blend_targets(targets: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * targets + weight * teacher``: the data's targets (one-hot or votes) and the teachers'."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"teacher weight must be between 0 and 1, not {weight}")
    if targets.shape != teacher.shape:
        raise ValueError(f"teacher probabilities {teacher.shape} do not match the targets {targets.shape}")
    return ((1.0 - weight) * targets + weight * teacher).astype(np.float32)


def distilled_targets(teachers: list[str], weight: float, x: np.ndarray, targets: np.ndarray,
                      class_names: list[str], cache_dir: Path | None = None, fingerprint: str = "") -> np.ndarray:
    """The training targets blended with the teachers' probabilities.

    With ``cache_dir`` the teachers' labels are kept there, keyed by ``fingerprint`` (the
    training images' ``data_fingerprint``) and the teachers, and reused by a resumed run.
    """
    key = teacher_key(teachers, f"{fingerprint}:{len(x)}", class_names)
    cache = Path(cache_dir) / CACHE_FILE if cache_dir is not None else None
    probs = _cached(cache, key, targets.shape)
    if probs is None:
        probs = teacher_probabilities(teachers, x, class_names)
        if cache is not None:
            np.savez(cache, key=np.array(key), probs=probs)
    else:
        log.info("teachers' labels read from %s", cache)
    return blend_targets(targets, probs, weight)


def _cached(cache: Path | None, key: str, shape: tuple[int, ...]) -> np.ndarray | None:
    if cache is None or not cache.is_file():
        return None
    try:
        with np.load(cache) as f:
            if str(f["key"]) == key and f["probs"].shape == shape:
                return np.asarray(f["probs"], np.float32)
    except (OSError, ValueError, KeyError):
        pass
    return None


__all__ = ["CACHE_FILE", "blend_targets", "class_columns", "distilled_targets", "teacher_key",
           "teacher_probabilities"]
