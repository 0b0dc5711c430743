"""Plain words about a model: one sentence for the Home page, accuracy always with its count.

Why: "80.0%" measured on 5 pictures and "70.2%" on 3,589 are different claims; every page that
shows a model's accuracy says how many pictures it rests on, and warns when they are too few to
trust. The wording lives here so Home and Teach say it the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fer_core.training.reports import report_title, trained_key
from fer_core.training.uncertainty import report_intervals

SMALL_TEST = 100  # below this many test pictures one picture moves accuracy by a percent or more


def accuracy_text(accuracy: float, n: int | None, on: str = "test pictures") -> str:
    """``70.2% of 3,589 test pictures`` (the count always beside the figure)."""
    if not n:
        return f"{accuracy:.1%} (number of {on} unknown)"
    return f"{accuracy:.1%} of {n:,} {on}"


def small_test_warning(n: int | None) -> str | None:
    """A warning when an accuracy rests on fewer than ``SMALL_TEST`` pictures, else None."""
    if n is None or n >= SMALL_TEST:
        return None
    step = 1 / n if n else 1.0
    return (f"Measured on only {n} picture{'s' if n != 1 else ''}: one picture more or less right moves it by "
            f"{step:.0%}. Treat it as a rough hint; {SMALL_TEST}+ pictures give a figure to trust.")


def interval_note(report: dict[str, Any]) -> str | None:
    """``95% range with other faces like these: accuracy 85.2–87.6%, macro F1 0.659–0.755``, or None.

    Why: the figures above it come from test sets of 923 to 3,589 faces (a user's own of a few dozen);
    the range says how much of a gap between two models is just which faces were drawn."""
    try:
        iv = report_intervals(report)
    except (AttributeError, KeyError, TypeError, ValueError):  # a report too damaged to resample: figures still show
        return None
    if iv is None:
        return None
    acc, f1 = iv["accuracy"], iv["macro_f1"]
    return (f"{acc.level:.0%} range with other faces like these: accuracy {acc.low:.1%}–{acc.high:.1%}, "
            f"macro F1 {f1.low:.3f}–{f1.high:.3f}")


def headline_metric(card: Any) -> tuple[str, dict[str, Any]] | None:
    """The card's first evaluated split and its metrics (``accuracy``, ``n``…), or None."""
    for split, m in (getattr(card, "metrics", None) or {}).items():
        if isinstance(m, dict) and isinstance(m.get("accuracy"), (int, float)):
            return split, m
    return None


def views_text(tta: list[str]) -> str:
    """How many views of a face the model averages, in words (``6 views … each also mirrored``)."""
    views = ["as is"] + [f"zoomed ×{t.split(':', 1)[1]}" for t in tta if t.startswith("zoom:")]
    mirrored = "hflip" in tta
    n = len(views) * (2 if mirrored else 1)
    if n == 1:
        return "one view of each face"
    return (f"{n} views of each face averaged: " + ", ".join(views)
            + (", each also mirrored" if mirrored and len(views) > 1 else " and mirrored" if mirrored else ""))


def plain_summary(card: Any) -> str:
    """One plain sentence: what the model recognises, and how well on faces it never saw.

    E.g. "Recognises 7 expressions (angry, …) in small grey photos of faces. It named 70.2% of 3,589 test
    faces right." Which split of which file is for the model details, not this sentence.
    """
    classes = list(card.class_names)
    colour = "grey" if card.color_mode == "grayscale" else "colour"
    text = f"Recognises {len(classes)} expressions ({', '.join(classes)}) in small {colour} photos of faces."
    head = headline_metric(card)
    if head is None:
        return text + " It has not been tested yet."
    _, m = head
    if m.get("labels") == "ferplus":
        return text + (" On faces it never saw while learning, it agreed with what most of ten people said on "
                       f"{accuracy_text(float(m['accuracy']), m.get('n'), on='faces')}.")
    return text + (" On faces it never saw while learning, it named "
                   f"{accuracy_text(float(m['accuracy']), m.get('n'), on='faces')} right.")


def trained_on_text(card: Any) -> str:
    """The card's ``trained_on`` with its data named by file or folder name only: the full path is the
    server's business (a visitor's own captures sit in a folder named after a secret key, a kept-classes
    training in a temporary folder), the name says what it was."""
    text = str(getattr(card, "trained_on", "") or "")
    data, sep, rest = text.partition(" [")
    return (Path(data).name or data) + sep + rest


def test_set_name(card: Any, line: str, metrics: dict[str, Any]) -> str:
    """A card's metrics line (``PrivateTest`` or ``all [imfdb_faces]``) as a reader's name of its test set."""
    split, _, key = line.partition(" [")
    key = key.rstrip("]") or trained_key(card)
    if metrics.get("labels") == "ferplus":
        key = "ferplus"
    return f"{report_title(key)}, {split}"


def _shares_text(members: list[Any]) -> str:
    """`` with weights 45% / 45% / 10%`` when an ensemble's members do not count alike, else empty."""
    shares = [m.get("share") if isinstance(m, dict) else None for m in members]
    if any(not isinstance(s, (int, float)) for s in shares) or max(shares) - min(shares) < 1e-6:
        return ""
    return " with weights " + " / ".join(f"{s:.0%}" for s in shares)


def model_summary(card: Any) -> dict[str, str]:
    """The card's headline facts as label -> text (the Home page's "Model details")."""
    metrics = getattr(card, "metrics", {}) or {}
    acc = next((m.get("accuracy") for m in metrics.values() if isinstance(m, dict) and "accuracy" in m), None)
    split = next((k for k, m in metrics.items() if isinstance(m, dict) and "accuracy" in m), None)
    training = getattr(card, "training", {})
    members = training.get("ensemble") if isinstance(training, dict) else None
    if isinstance(members, list) and members:
        backbone = f"{len(members)} × {card.backbone}, probabilities averaged{_shares_text(members)}"
    elif card.weights not in ("", "none"):
        backbone = f"{card.backbone} ({card.weights} weights)"
    else:
        backbone = card.backbone
    views = ["original"] + [t.replace("zoom:", "zoom ×") for t in getattr(card, "tta", []) if t != "hflip"]
    if "hflip" in getattr(card, "tta", []):
        views = [f"{v} + mirrored" for v in views]
    return {
        "Classes": ", ".join(card.class_names),
        "Backbone": backbone,
        "Input": f"{card.input_size[0]}×{card.input_size[1]} {card.color_mode}",
        "Test-time views": ", ".join(views),
        "Test accuracy": f"{acc:.1%} on {split}" if isinstance(acc, (int, float)) else "not evaluated yet",
    }


__all__ = ["SMALL_TEST", "accuracy_text", "headline_metric", "interval_note", "model_summary", "plain_summary",
           "test_set_name", "trained_on_text",
           "small_test_warning", "views_text"]
