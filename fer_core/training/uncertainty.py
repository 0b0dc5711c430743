"""How far a test figure could move with other faces: bootstrap intervals from an evaluation report.

Why: the app shows accuracy and macro F1 on test sets of very different sizes (3,589 FER2013 faces,
923 faces from films with classes of 9 and 12, a user's 40 captured pictures). Two models a point apart
on a small set are often not different at all; an interval next to the figure says so. The interval is
computed from the report's confusion matrix and per-class supports alone, so every report already
written (shipped models included) gets one without evaluating again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

DRAWS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A percentile bootstrap interval: ``low`` and ``high`` bound the middle ``level`` of the draws."""

    low: float
    high: float
    level: float = LEVEL


def outcome_table(report: dict[str, Any]) -> np.ndarray:
    """Faces per (true class, predicted class) with one last column for faces where no face was found.

    Why: missed faces sit in no column of the confusion matrix but count as errors (and in their class's
    support), so they are recovered from ``per_class[...]["support"]`` minus the row's total."""
    names = report["class_names"]
    cm = np.asarray(report["confusion_matrix"], dtype=np.int64)
    per_class = report.get("per_class", {})
    support = np.array([int(per_class.get(n, {}).get("support", row.sum())) for n, row in zip(names, cm)])
    missed = np.maximum(support - cm.sum(axis=1), 0)
    return np.concatenate([cm, missed[:, None]], axis=1)


def _scores(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro F1 of each (draws, k, k+1) outcome table, as ``compute_metrics`` defines them."""
    k = tables.shape[1]
    tp = tables[:, np.arange(k), np.arange(k)].astype(float)
    support = tables.sum(axis=2).astype(float)  # missed faces included: they lower recall
    predicted = tables[:, :, :k].sum(axis=1).astype(float)
    n = support.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    total = precision + recall
    f1 = np.divide(2 * precision * recall, total, out=np.zeros_like(tp), where=total > 0)
    present = support > 0  # classes absent from the test set are not averaged, as in the report
    macro = (f1 * present).sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    return tp.sum(axis=1) / np.maximum(n, 1), macro


def report_intervals(report: dict[str, Any], draws: int = DRAWS, level: float = LEVEL,
                     seed: int = 0) -> dict[str, Interval] | None:
    """``{"accuracy": Interval, "macro_f1": Interval}`` from resampling the report's faces with replacement.

    ``None`` for a report without faces. Seeded, so a page shows the same interval on every run."""
    table = outcome_table(report)
    n = int(table.sum())
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    draws_ = rng.multinomial(n, table.ravel() / n, size=draws).reshape(draws, *table.shape)
    tail = (1 - level) / 2 * 100
    out = {}
    for name, values in zip(("accuracy", "macro_f1"), _scores(draws_)):
        low, high = np.percentile(values, [tail, 100 - tail])
        out[name] = Interval(float(low), float(high), level)
    return out


__all__ = ["DRAWS", "Interval", "LEVEL", "outcome_table", "report_intervals"]
