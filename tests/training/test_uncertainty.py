"""fer_core.training.uncertainty: bootstrap intervals from a report agree with compute_metrics and with sample size."""

from __future__ import annotations

import numpy as np
import pytest

from fer_core.training.evaluation import compute_metrics
from fer_core.training.uncertainty import outcome_table, report_intervals

NAMES = ["angry", "happy", "sad"]


def faces(n_per_class: int, wrong: float, missed: int = 0, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = np.repeat(np.arange(3), n_per_class)
    y_pred = np.where(rng.random(len(y_true)) < wrong, (y_true + 1) % 3, y_true)
    y_pred[:missed] = -1  # no face found: an error in its class
    return y_true, y_pred


def test_table_recovers_missed_faces_from_supports() -> None:
    rep = compute_metrics(*faces(50, 0.2, missed=7), NAMES)
    table = outcome_table(rep)
    assert table.sum() == rep["n"] == 150 and table[:, -1].sum() == 7 == rep["missed_faces"]


def test_interval_brackets_the_reported_figures() -> None:
    rep = compute_metrics(*faces(100, 0.3, missed=5), NAMES)
    iv = report_intervals(rep)
    assert iv is not None
    assert iv["accuracy"].low < rep["accuracy"] < iv["accuracy"].high
    assert iv["macro_f1"].low < rep["macro_f1"] < iv["macro_f1"].high
    assert report_intervals(rep) == iv  # seeded: the page shows the same interval every run


def test_interval_narrows_with_more_faces() -> None:
    small = report_intervals(compute_metrics(*faces(15, 0.3), NAMES))
    large = report_intervals(compute_metrics(*faces(1500, 0.3), NAMES))
    assert small is not None and large is not None
    width = {k: (v.high - v.low) for k, v in small.items()}
    assert all(large[k].high - large[k].low < width[k] / 4 for k in width)
    # about 1.96 binomial standard errors each side for accuracy on 4,500 faces
    se = np.sqrt(0.7 * 0.3 / 4500)
    assert large["accuracy"].high - large["accuracy"].low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_perfect_and_empty_reports() -> None:
    y = np.repeat(np.arange(3), 20)
    iv = report_intervals(compute_metrics(y, y, NAMES))
    assert iv is not None and iv["accuracy"].low == iv["accuracy"].high == 1.0 and iv["macro_f1"].low == 1.0
    assert report_intervals(compute_metrics(np.array([], int), np.array([], int), NAMES)) is None


def test_a_class_absent_from_the_test_set_is_not_averaged() -> None:
    """As in the report: contempt on a seven-class set must not pull macro F1 towards zero."""
    y_true, y_pred = faces(200, 0.1)
    rep = compute_metrics(y_true, y_pred, NAMES + ["contempt"])
    iv = report_intervals(rep)
    assert iv is not None and iv["macro_f1"].low < rep["macro_f1"] < iv["macro_f1"].high and iv["macro_f1"].low > 0.8
