"""fer_core.draw: boxes and labels land on a copy, the largest face in green."""

from __future__ import annotations

import numpy as np

from fer_core.detection import Box
from fer_core.draw import GREEN, GREY, draw_faces, face_text, mark_error
from fer_core.pipeline import Face


def _faces() -> list[Face]:
    big = Face(Box(100, 100, 120, 120), True, {"happy": 0.9, "sad": 0.1}, "happy", 0.9)
    small = Face(Box(10, 300, 50, 50), False, {"happy": 0.2, "sad": 0.8}, "sad", 0.8)
    return [big, small]


def test_draw_faces_copies_and_colours() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    out = draw_faces(img, _faces())
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not img.any(), "the input must not be drawn on"
    # box edges: the largest green, the other grey
    assert tuple(out[160, 100]) == GREEN
    assert tuple(out[330, 10]) == GREY
    # a label tag above the large box is filled green
    tag = out[70:98, 100:160].reshape(-1, 3)
    assert (tag == GREEN).all(axis=1).sum() > 200


def test_draw_faces_gray_input_and_no_faces() -> None:
    gray = np.full((60, 80), 128, np.uint8)
    out = draw_faces(gray, [])
    assert out.shape == (60, 80, 3)
    assert (out == 128).all()


def test_numbered_tags_and_unlabelled_faces() -> None:
    faces = _faces()
    faces[1].label = None
    faces[1].score = None
    assert face_text(faces[0]) == "happy 90%"
    assert face_text(faces[1]) is None
    out = draw_faces(np.zeros((400, 400, 3), np.uint8), faces, numbered=True)
    assert out.any()


def test_mark_error_marks_corner() -> None:
    out = mark_error(np.zeros((50, 50, 3), np.uint8))
    assert out[:10, :10].any() and not out[20:, 20:].any()
    assert mark_error(None).shape == (48, 64, 3)
