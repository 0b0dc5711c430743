"""A model's training history and evaluation report as tables for charts.

Why: a model folder's history and reports (``fer_core.model_folder`` names and reads the files)
are written by training and evaluation; the metrics page needs them as tidy DataFrames
(learning curves, per-class scores, confusion matrix), and a model folder without them, or
with a damaged one, must give a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fer_core import model_folder
from fer_core.errors import ModelError

BENCHMARK_TITLES = {"fer2013": "FER2013, original labels", "ferplus": "FER+ majority of ten taggers",
                    "imfdb_faces": "faces from films (imfdb_faces)"}


def report_key(data: str | Path, labels: str = "fer2013") -> str:
    """The test set a report is about: ``ferplus``, ``fer2013`` or an image folder's name.

    Why: one model is measured against several label sets and datasets; the key names its file
    (``model_folder.report_file``) and its line on the card, so the figures never overwrite each other.
    """
    if labels != "fer2013":
        return "ferplus"
    p = Path(str(data))
    if p.suffix.lower() in (".npz", ".csv"):
        return "fer2013"
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in p.name)[:40] or "data"


def report_title(key: str) -> str:
    """A reader's name for a report key."""
    return BENCHMARK_TITLES.get(key, f"{key} (image folder)")


def trained_key(card: Any) -> str:
    """The report key of the data and labels a model was trained on (its primary test set)."""
    config = card.training.get("config", {}) if isinstance(getattr(card, "training", None), dict) else {}
    return report_key(config.get("data", ""), config.get("labels", "fer2013")) if config else "fer2013"


def report_path(model_dir: str | Path, key: str, card: Any) -> Path:
    """The model's own report file for its own test set, the one named by ``key`` for any other."""
    return model_folder.report_file(model_dir, None if key == trained_key(card) else key)


CURVE_METRICS = {"loss": ("loss", "val_loss"), "accuracy": ("accuracy", "val_accuracy")}


def load_history(model_dir: str | Path) -> pd.DataFrame | None:
    """Epoch rows (phase, epoch, loss, accuracy, val_loss, val_accuracy, lr, seconds) plus ``step``,
    the epoch count across phases. ``None`` when the model has no history; ``ModelError`` if damaged."""
    epochs = model_folder.read_history(model_dir)
    if not epochs:
        return None
    df = pd.DataFrame(epochs)
    if "phase" not in df:
        df["phase"] = "train"
    df["phase"] = df["phase"].fillna("train").astype(str)
    if "epoch" not in df:
        df["epoch"] = range(1, len(df) + 1)
    for col in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"):
        df[col] = pd.to_numeric(df[col], errors="coerce") if col in df else float("nan")
    df["step"] = range(1, len(df) + 1)
    return df.reset_index(drop=True)


def history_long(history: pd.DataFrame) -> pd.DataFrame:
    """Long format for Altair: step, epoch, phase, network, metric (loss/accuracy), split (train/val), value.

    ``network``: the ensemble member the epoch belongs to (``model_folder.network_of``), "" for a single network."""
    rows = []
    keys = history[["step", "epoch", "phase"]].assign(network=history["phase"].astype(str).map(model_folder.network_of))
    for metric, (train_col, val_col) in CURVE_METRICS.items():
        for split, col in (("train", train_col), ("val", val_col)):
            if col not in history:
                continue
            part = keys.copy()
            part["metric"] = metric
            part["split"] = split
            part["value"] = history[col]
            rows.append(part)
    if not rows:
        return pd.DataFrame(columns=["step", "epoch", "phase", "network", "metric", "split", "value"])
    out = pd.concat(rows, ignore_index=True)
    return out.dropna(subset=["value"]).reset_index(drop=True)


def phase_spans(history: pd.DataFrame) -> pd.DataFrame:
    """One row per training phase: phase, start and end step (for shading the curves)."""
    spans = []
    for phase, part in history.groupby("phase", sort=False):
        spans.append({"phase": phase, "start": int(part["step"].min()), "end": int(part["step"].max())})
    return pd.DataFrame(spans, columns=["phase", "start", "end"])


def load_report(model_dir: str | Path, key: str | None = None) -> dict[str, Any] | None:
    """A report (the model's own, or the one ``key`` names) checked for the keys the page uses;
    ``None`` when absent, ``ModelError`` if damaged."""
    found = model_folder.read_report(model_dir, key)
    if found is None:
        return None
    path, data = found
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a JSON object")
    missing = [k for k in ("accuracy", "class_names", "confusion_matrix", "per_class") if k not in data]
    if missing:
        raise ModelError(f"{path}: missing {', '.join(missing)}")
    names = data["class_names"]
    cm = data["confusion_matrix"]
    if not isinstance(names, list) or not isinstance(cm, list) or len(cm) != len(names) or any(
        not isinstance(row, list) or len(row) != len(names) for row in cm
    ):
        raise ModelError(f"{path}: confusion_matrix must be {len(names) if isinstance(names, list) else 'k'}"
                         "×k for k class_names")
    if not isinstance(data["per_class"], dict):
        raise ModelError(f"{path}: per_class must be an object")
    return data


def per_class_frame(report: dict[str, Any]) -> pd.DataFrame:
    """class, precision, recall, f1, accuracy, support — one row per class in the report's order."""
    rows = []
    for name in report["class_names"]:
        m = report["per_class"].get(name, {})
        rows.append({"class": name, "precision": m.get("precision"), "recall": m.get("recall"),
                     "f1": m.get("f1"), "accuracy": m.get("accuracy", m.get("recall")),
                     "support": m.get("support")})
    df = pd.DataFrame(rows, columns=["class", "precision", "recall", "f1", "accuracy", "support"])
    for col in ("precision", "recall", "f1", "accuracy"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df["support"] = pd.to_numeric(df["support"], errors="coerce").fillna(0).astype(int)
    return df


def confusion_frame(report: dict[str, Any]) -> pd.DataFrame:
    """Long format: true, predicted, count, share (of the true class's row) for a heatmap."""
    names = report["class_names"]
    rows = []
    for t, row in zip(names, report["confusion_matrix"]):
        total = sum(row)
        for p, n in zip(names, row):
            rows.append({"true": t, "predicted": p, "count": int(n), "share": (n / total) if total else 0.0})
    return pd.DataFrame(rows, columns=["true", "predicted", "count", "share"])


@dataclass
class ModelReports:
    """Everything the metrics page shows for one model; missing parts are ``None`` with a reason."""

    model_dir: Path
    history: pd.DataFrame | None = None
    report: dict[str, Any] | None = None
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)  # title -> report on another test set
    errors: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.history is None and self.report is None


def load_model_reports(model_dir: str | Path) -> ModelReports:
    """History and report of a model folder; a damaged file becomes an entry in ``errors``."""
    out = ModelReports(Path(model_dir))
    for attr, loader in (("history", load_history), ("report", load_report)):
        try:
            setattr(out, attr, loader(model_dir))
        except (ModelError, OSError) as exc:
            out.errors.append(str(exc))
    for key, _ in model_folder.extra_reports(model_dir):
        try:
            report = load_report(model_dir, key)
        except (ModelError, OSError) as exc:
            out.errors.append(str(exc))
            continue
        if report is not None:
            out.extra[report_title(key)] = report
    return out


__all__ = ["BENCHMARK_TITLES", "ModelReports", "confusion_frame", "report_key",
           "report_path", "report_title", "trained_key", "history_long", "load_history", "load_model_reports",
           "load_report", "per_class_frame", "phase_spans"]
