"""fer_core.training.reports: history and report of a really trained model as tidy tables; damage is reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fer_core.errors import ModelError
from fer_core.training.reports import (
    confusion_frame,
    history_long,
    load_history,
    load_model_reports,
    load_report,
    per_class_frame,
    phase_spans,
)


def test_trained_model_history(tiny_model_dir: Path) -> None:
    h = load_history(tiny_model_dir)
    assert h is not None and len(h) >= 1
    assert list(h["step"]) == list(range(1, len(h) + 1))
    assert {"phase", "epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(h.columns)
    long = history_long(h)
    assert set(long["metric"]) == {"loss", "accuracy"} and set(long["split"]) == {"train", "val"}
    assert len(long) == 4 * len(h)


def test_trained_model_report(tiny_model_dir: Path) -> None:
    rep = load_report(tiny_model_dir)
    assert rep is not None
    names = rep["class_names"]
    pc = per_class_frame(rep)
    assert list(pc["class"]) == names
    assert pc["support"].sum() == sum(sum(r) for r in rep["confusion_matrix"]) + rep.get("missed_faces", 0)
    cm = confusion_frame(rep)
    assert len(cm) == len(names) ** 2
    for t in names:
        shares = cm[cm["true"] == t]["share"]
        assert shares.sum() == pytest.approx(1.0) or shares.sum() == 0


def test_phases_and_steps(tmp_path: Path) -> None:
    epochs = [{"phase": "head", "epoch": i, "loss": 1.0 / i, "accuracy": 0.1 * i, "val_loss": 1.1 / i,
               "val_accuracy": 0.09 * i} for i in (1, 2)]
    epochs += [{"phase": "finetune", "epoch": i, "loss": 0.4, "accuracy": 0.6, "val_loss": None,
                "val_accuracy": None} for i in (1, 2, 3)]
    (tmp_path / "history.json").write_text(json.dumps({"epochs": epochs}))
    h = load_history(tmp_path)
    spans = phase_spans(h).to_dict("records")
    assert spans == [{"phase": "head", "start": 1, "end": 2}, {"phase": "finetune", "start": 3, "end": 5}]
    long = history_long(h)
    assert len(long[(long["split"] == "val")]) == 4  # missing validation values dropped


def test_absent_files_are_none(tmp_path: Path) -> None:
    assert load_history(tmp_path) is None and load_report(tmp_path) is None
    mr = load_model_reports(tmp_path)
    assert mr.empty and mr.errors == []


@pytest.mark.parametrize("history, report, message", [
    ("{oops", None, "not valid JSON"),
    ('{"epochs": 3}', None, "expected"),
    (None, '{"accuracy": 0.5}', "missing class_names"),
    (None, '{"accuracy": 0.5, "class_names": ["a", "b"], "confusion_matrix": [[1]], "per_class": {}}',
     "confusion_matrix"),
])
def test_damaged_files_give_errors(tmp_path: Path, history, report, message) -> None:
    if history is not None:
        (tmp_path / "history.json").write_text(history)
    if report is not None:
        (tmp_path / "report.json").write_text(report)
    mr = load_model_reports(tmp_path)
    assert len(mr.errors) == 1 and message in mr.errors[0]
    with pytest.raises(ModelError, match=message):
        (load_history if history is not None else load_report)(tmp_path)


def test_report_copy_keeps_working(tiny_model_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "m"
    shutil.copytree(tiny_model_dir, copy)
    mr = load_model_reports(copy)
    assert mr.history is not None and mr.report is not None and not mr.errors
