"""Test-time views (flip, zoom) kept only where validation images show they pay.

Why: flip and zoom averaging cost 2-6 model runs per face; the trainer and the ensemble
builder both pick them for the model folder they wrote, always on the validation split
(never the test split). Ties go to the cheaper list.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from fer_core.data.datasets import Split
from fer_core.inference.card import load_card, view_count
from fer_core.inference.classifier import Classifier
from fer_core.training.data import split_to_arrays
from fer_core.training.evaluation import label_map

log = logging.getLogger(__name__)

TTA_CANDIDATES: tuple[tuple[str, ...], ...] = ((), ("hflip",), ("hflip", "zoom:1.1", "zoom:0.9"))


def choose_tta(model_dir: Path, x_val: np.ndarray, y_val: np.ndarray,
               candidates: tuple[tuple[str, ...], ...] = TTA_CANDIDATES) -> list[str]:
    """Write into the card the test-time views that score best on validation images; return them.

    ``x_val``: ``(N, H, W, C)`` uint8 as the card feeds them; ``y_val``: indices into the card's classes.
    """
    clf = Classifier(model_dir)
    x = clf.card.normalization.apply(x_val)
    scores: dict[str, float] = {}
    best: tuple[float, list[str]] = (-1.0, [])
    for cand in candidates:
        probs = np.concatenate([clf.predict_batch(x[i:i + 512], tta=list(cand)) for i in range(0, len(x), 512)])
        acc = float((probs.argmax(axis=1) == y_val).mean())
        scores["+".join(cand) or "none"] = round(acc, 4)
        if acc > best[0] + 1e-9:
            best = (acc, list(cand))
    card = load_card(model_dir)
    card.tta = best[1]
    card.training = {**card.training, "tta_validation_accuracy": scores}
    card.save(model_dir)
    log.info("test-time views on validation: %s -> %s", scores, best[1] or "none")
    return best[1]


def candidates_within(max_views: int = 0) -> tuple[tuple[str, ...], ...]:
    """The candidate view lists costing at most ``max_views`` model runs per face (0: all of them).

    Why: an ensemble of several networks already runs each of them per face; its views are
    held to what keeps the live page's budget, rather than to whatever scores best.
    """
    if max_views < 0:
        raise ValueError(f"--max-views must be 0 (no limit) or more, not {max_views}")
    return tuple(c for c in TTA_CANDIDATES if not max_views or view_count(list(c)) <= max_views)


def choose_tta_on_split(model_dir: Path, split: Split, data_classes: list[str], max_views: int = 0) -> list[str]:
    """``choose_tta`` on a dataset split, leaving out the classes the model does not know."""
    card = load_card(model_dir)
    x, y = split_to_arrays(split, card.input_size, card.color_mode)
    mapping, _ = label_map(data_classes, card.class_names)
    known = mapping[y] >= 0
    return choose_tta(model_dir, x[known], mapping[y[known]], candidates_within(max_views))


__all__ = ["TTA_CANDIDATES", "candidates_within", "choose_tta", "choose_tta_on_split"]
