"""Labelled faces the tests hold the shipped models to: what people say each face shows, never what the
code says.

* ``private_test_sample``: a fixed sample of FER2013 PrivateTest faces (``../shared``) with FER2013's own
  label, or the FER+ taggers' majority worked out here from the raw votes as Barsoum et al. define it (votes
  of 1 dropped, more than half of the rest; unknown, not-a-face or no majority: left out).
* ``SMILING`` / ``NEUTRAL``: photos from scikit-image's sample data that anyone can check by eye:
  the astronaut (``skimage.data.astronaut()``, Eileen Collins, smiling) and faces of ``skimage.data.lfw_subset()``
  (Labeled Faces in the Wild, 25x25 grey), looked at one by one: broad smiles, and faces at rest.
  ``docs/testing.md`` says how to look at them yourself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

# FER+ vote columns to the shipped models' class names
_VOTE_CLASS = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
               "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "contempt"}
SAMPLE_SIZE = 400
SAMPLE_SEED = 2013


def ferplus_majority(votes: np.ndarray, vote_names: list[str]) -> list[str | None]:
    """Each row's majority emotion (a shipped model's class name), ``None`` where the protocol leaves it out."""
    out: list[str | None] = []
    for row in votes:
        if (row < 0).all():  # a face FER+ left out
            out.append(None)
            continue
        kept = np.where(row > 1, row, 0)  # a single vote is an outlier
        winner = int(np.argmax(kept))
        name = vote_names[winner]
        out.append(_VOTE_CLASS.get(name) if kept[winner] * 2 > kept.sum() else None)
    return out


def private_test_sample(fer_npz: Path, labels: str, size: int = SAMPLE_SIZE) -> tuple[np.ndarray, list[str]]:
    """``size`` PrivateTest faces (48x48 uint8) drawn with a fixed seed, and their labels
    (``fer2013``: the dataset's own; ``ferplus``: the taggers' majority, faces without one left out)."""
    with np.load(fer_npz, allow_pickle=False) as d:
        private = list(d["usage_names"]).index("PrivateTest")
        rows = np.flatnonzero(d["usage"] == private)
        images = d["images"]
        names = [str(n) for n in d["class_names"]]
        if labels == "fer2013":
            truth: list[str | None] = [names[int(y)] for y in d["labels"]]
        else:
            with np.load(fer_npz.parent.parent / "ferplus" / "ferplus_votes.npz", allow_pickle=False) as v:
                truth = ferplus_majority(v["votes"], [str(n).lower() for n in v["vote_names"]])
        rows = np.array([r for r in rows if truth[r] is not None])
        pick = np.sort(np.random.default_rng(SAMPLE_SEED).choice(rows, size, replace=False))
        return images[pick], [str(truth[r]) for r in pick]


# ------------------------------------------------------------------ photos anyone can check by eye
@dataclass(frozen=True)
class Photo:
    """A face photo and the expression people see on it."""

    name: str
    expression: str
    source: str  # where it comes from, for a failure message

    def face(self) -> np.ndarray:
        """The face as RGB uint8 (the astronaut's head and shoulders; an LFW face enlarged to 160 px)."""
        from skimage import data

        if self.source == "astronaut":
            return np.ascontiguousarray(data.astronaut()[0:320, 80:400])
        index = int(self.source.split(":")[1])
        gray = (data.lfw_subset()[index] * 255).round().astype(np.uint8)
        big = cv2.resize(gray, (160, 160), interpolation=cv2.INTER_CUBIC)
        return np.repeat(big[:, :, None], 3, axis=2)

    def photo(self) -> np.ndarray:
        """The whole photo as someone would upload it (the astronaut as published; an LFW face on a plain wall)."""
        from skimage import data

        if self.source == "astronaut":
            return np.ascontiguousarray(data.astronaut())
        return in_frame(self.face(), (320, 240))


SMILING = [Photo("astronaut", "happy", "astronaut"), Photo("lfw_1", "happy", "lfw:1"),
           Photo("lfw_31", "happy", "lfw:31"), Photo("lfw_74", "happy", "lfw:74")]
NEUTRAL = [Photo("lfw_17", "neutral", "lfw:17"), Photo("lfw_40", "neutral", "lfw:40"),
           Photo("lfw_73", "neutral", "lfw:73"), Photo("lfw_80", "neutral", "lfw:80")]
PHOTOS = SMILING + NEUTRAL


def in_frame(face: np.ndarray, size: tuple[int, int], background: tuple[int, int, int] = (70, 80, 90),
             side: int | None = None) -> np.ndarray:
    """``face`` (RGB) scaled to ``side`` (default: 2/3 of the frame's height), centred on a plain frame (w, h)."""
    w, h = size
    side = side or (h * 2) // 3
    face = cv2.resize(face, (side, side), interpolation=cv2.INTER_AREA if face.shape[0] > side else cv2.INTER_CUBIC)
    frame = np.full((h, w, 3), background, np.uint8)
    y, x = (h - side) // 2, (w - side) // 2
    frame[y:y + side, x:x + side] = face
    return frame
