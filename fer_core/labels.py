"""Class names: canonical spelling, synonyms, and validation of user-given names."""

from __future__ import annotations

import re

FER2013_CLASSES: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

_SYNONYMS: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "scared": "fear",
    "afraid": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "smile": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
}

_VALID_CLASS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,63}$")


def canonical_class(name: str) -> str:
    """Map a folder or CSV class name to its canonical spelling (``Happiness`` -> ``happy``)."""
    key = name.strip().lower().replace("-", " ").replace("_", " ")
    key = " ".join(key.split())
    return _SYNONYMS.get(key, key.replace(" ", "_"))


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
