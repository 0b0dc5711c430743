"""The personal protocol: how much a calibration to each person helps on that person's other faces.

``python -m fer_core.evaluate --model M --data FOLDER --detect --personal K [--person-pattern REGEX]
[--repeats R] --json OUT``. The person is read from each file name; for each person, K faces of each
class that has more than K are the calibration and the rest of that person's faces of those classes the
test. Each test face is scored among the classes its person calibrated, once as the model says and once
calibrated: the same faces under the same restriction, so the two accuracies differ only by the
calibration. R draws (seeded) average out the luck of which faces were drawn.

Why a restriction to the calibrated classes: a person calibrates the expressions they will make; a
class they never showed cannot be judged for them, and the uncalibrated figure is restricted alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fer_core.data.datasets import Split
from fer_core.errors import DatasetError, ImageError
from fer_core.inference.calibration import CalibrationSettings, fit_calibration

_TRAILING_NUMBER = re.compile(r"_\d+$")


def person_of(name: str, pattern: str | None = None) -> str | None:
    """The person a file name belongs to; ``None`` when ``pattern`` does not match it.

    Default: the name up to its first dot, less a trailing ``_<digits>`` (``KA.AN1.39.png`` -> ``KA``,
    ``Al_Sharpton_0002.jpg`` -> ``Al_Sharpton``). A ``pattern`` is searched in the file name; its first
    group (or the whole match) is the person.
    """
    base = Path(name).name
    if pattern is None:
        return _TRAILING_NUMBER.sub("", base.split(".", 1)[0]) or None
    found = re.search(pattern, base)
    if found is None:
        return None
    return (found.group(1) if found.groups() else found.group(0)) or None


def face_probabilities(pipeline: Any, split: Split, detect: bool,
                       progress: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, list[str]]:
    """The model's probabilities for each image's largest face (``detect``) or the whole image.

    Rows of images without a face, or unreadable, are NaN; the second value lists the unreadable ones.
    """
    k = len(pipeline.classifier.class_names)
    probs = np.full((len(split), k), np.nan, dtype=np.float64)
    unreadable: list[str] = []
    for i in range(len(split)):
        try:
            faces = pipeline.analyze(split.image(i), classify="largest" if detect else "whole")
        except ImageError as exc:
            unreadable.append(str(exc))
            continue
        top = next((f for f in faces if f.is_largest and f.probabilities), None)
        if top is not None:
            probs[i] = [top.probabilities[c] for c in pipeline.classifier.class_names]
        if progress:
            progress(i + 1, len(split))
    return probs, unreadable


@dataclass
class PersonalResult:
    """Test faces pooled over the repeats: true class, the model's and the calibrated prediction (-1: no face)."""

    y_true: np.ndarray
    y_model: np.ndarray
    y_personal: np.ndarray
    people: list[str]
    test_faces: int  # per repeat
    per_person: dict[str, dict[str, float | int]]


def draw(labels: np.ndarray, found: np.ndarray, members: np.ndarray, k: int,
         rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One person's calibration faces, calibrated classes and test faces (indices into the set).

    A class counts when the person has more than ``k`` faces of it with a face found; ``k`` of those
    are drawn. Test faces are the person's other images of those classes, misses included.
    """
    cal: list[int] = []
    classes: list[int] = []
    for c in np.unique(labels[members]):
        usable = members[(labels[members] == c) & found[members]]
        if len(usable) > k:
            cal.extend(int(i) for i in rng.choice(usable, k, replace=False))
            classes.append(int(c))
    chosen = np.array(sorted(cal), dtype=np.int64)
    test = np.setdiff1d(members[np.isin(labels[members], classes)], chosen)
    return chosen, np.array(classes, dtype=np.int64), test


def personal_protocol(probs: np.ndarray, labels: np.ndarray, people: list[str | None], class_names: list[str],
                      k: int, repeats: int, seed: int = 0,
                      settings: CalibrationSettings | None = None) -> PersonalResult:
    """Run the protocol on cached probabilities (``labels``: model class indices)."""
    if k < 1 or repeats < 1:
        raise DatasetError("--personal and --repeats must be at least 1")
    found = ~np.isnan(probs).any(axis=1)
    names = sorted({p for p in people if p is not None})
    owner = np.array([p if p is not None else "" for p in people])
    y_true: list[int] = []
    y_model: list[int] = []
    y_personal: list[int] = []
    per: dict[str, list[int]] = {}
    calibrated_people: set[str] = set()
    test_faces = 0
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        count = 0
        for person in names:
            cal, classes, test = draw(labels, found, np.flatnonzero(owner == person), k, rng)
            if len(classes) < 2:
                continue  # one expression cannot be calibrated, nor judged among
            calibrated_people.add(person)
            calibration = fit_calibration(probs[cal], [class_names[c] for c in labels[cal]], class_names,
                                          model_name="", model_fingerprint="", settings=settings)
            seen = found[test]
            plain = np.full(len(test), -1)
            tuned = np.full(len(test), -1)
            plain[seen] = classes[np.argmax(probs[test[seen]][:, classes], axis=1)]
            tuned[seen] = classes[np.argmax(calibration.apply(probs[test[seen]])[:, classes], axis=1)]
            y_true.extend(labels[test])
            y_model.extend(plain)
            y_personal.extend(tuned)
            tally = per.setdefault(person, [0, 0, 0])
            tally[0] += len(test)
            tally[1] += int((plain == labels[test]).sum())
            tally[2] += int((tuned == labels[test]).sum())
            count += len(test)
        test_faces = count
    per_person: dict[str, dict[str, float | int]] = {
        p: {"test_faces": n // repeats, "accuracy": round(a / n, 6) if n else 0.0,
            "personal_accuracy": round(b / n, 6) if n else 0.0}
        for p, (n, a, b) in sorted(per.items())}
    return PersonalResult(np.array(y_true, np.int64), np.array(y_model, np.int64), np.array(y_personal, np.int64),
                          sorted(calibrated_people), test_faces, per_person)


__all__ = ["PersonalResult", "draw", "face_probabilities", "person_of", "personal_protocol"]
