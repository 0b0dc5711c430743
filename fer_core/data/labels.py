"""Class names: canonical spelling, synonyms, validation of user-given names, and how a label is written.

``label_score`` is the one way a class and its probability are written (``happy 87%``): in the live
readout, on the boxes drawn on frames and photos, in the upload results and on the video page.
"""

from __future__ import annotations

import re

import numpy as np

FER2013_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Other spellings of the same word, as datasets name their folders (FER2013, RAF-DB, CK+, AffectNet).
# Only spellings: a different word ("smile", "joy", "calm", "scared") is a class of its own, because a
# user who types a new class name on the Capture page must get that class, not a silent merge.
_SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "happy": "happy",
    "happiness": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
}

_VALID_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")


def _key(name: str) -> str:
    return " ".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def canonical_class(name: str) -> str:
    """Map a folder or CSV class name to its canonical spelling (``Happiness`` -> ``happy``)."""
    key = _key(name)
    return _SYNONYMS.get(key, key.replace(" ", "_"))


def spelling_of(name: str) -> str | None:
    """The class ``name`` is another spelling of (``Happiness`` -> ``happy``), or None when it is its own."""
    key = _key(name)
    canon = _SYNONYMS.get(key)
    return canon if canon is not None and canon != key else None


def validate_class_name(name: str) -> str:
    """Return a safe class name or raise ``ValueError``.

    Why: class names become folder names under the capture root, so anything that
    could be a path (``..``, ``/``, ``\\``) or is empty is refused.
    """
    if not isinstance(name, str):
        raise ValueError("class name must be text")
    stripped = name.strip()
    if not stripped:
        raise ValueError("class name is empty")
    if not _VALID_CLASS.match(stripped):
        raise ValueError(
            f"class name {name!r} is not allowed: use letters, digits, space, dash or underscore "
            "(at most 64 characters, starting with a letter or digit)"
        )
    return stripped


NO_FACE_YET = "no face yet"


def label_score(label: str, score: float | None = None) -> str:
    """``happy 87%``: a class name and its probability, as every page and picture writes it.

    Without a score, the class name alone.
    """
    return label if score is None else f"{label} {score:.0%}"


def label_line(prefix: str, label: str | None, score: float | None = None) -> str:
    """``Expression: happy 87%``, or ``Expression: no face yet`` before any face was classified."""
    return f"{prefix}: {NO_FACE_YET if label is None else label_score(label, score)}"


def one_hot(labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Integer labels as float32 rows with a 1 in each label's column: the hard targets every soft one starts from."""
    return np.eye(n_classes, dtype=np.float32)[labels]
