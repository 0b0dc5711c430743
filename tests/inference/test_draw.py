"""fer_core.inference.draw: boxes and labels land on a copy, the largest face in its class colour."""

from __future__ import annotations

import numpy as np

from fer_core.colors import class_rgb, text_rgb_on
from fer_core.inference.detection import Box
from fer_core.inference.draw import GREEN, GREY, draw_faces, face_text, mark_error
from fer_core.inference.pipeline import Face


def _faces() -> list[Face]:
    big = Face(Box(100, 100, 120, 120), True, {"happy": 0.9, "sad": 0.1}, "happy", 0.9)
    small = Face(Box(10, 300, 50, 50), False, {"happy": 0.2, "sad": 0.8}, "sad", 0.8)
    return [big, small]


def test_draw_faces_copies_and_colours() -> None:
    img = np.zeros((400, 400, 3), np.uint8)
    out = draw_faces(img, _faces())
    assert out.shape == img.shape and out.dtype == np.uint8
    assert not img.any(), "the input must not be drawn on"
    # box edges: the largest in its class's colour (the charts' happy), the other grey
    happy = class_rgb("happy")
    assert tuple(out[160, 100]) == happy
    assert tuple(out[330, 10]) == GREY
    # a label tag above the large box is filled with it
    tag = out[70:98, 100:160].reshape(-1, 3)
    assert (tag == happy).all(axis=1).sum() > 200


def test_each_class_colours_its_box_and_its_tag_text_reads() -> None:
    """The box and tag follow the label: a change of expression is a change of colour, as in the charts;
    the tag's text is black on light fills and white on dark ones. No label yet: green."""
    img = np.full((400, 400, 3), 128, np.uint8)
    for label in ("happy", "sad", "angry", "neutral", "my_smirk"):
        face = Face(Box(100, 100, 120, 120), True, {label: 1.0}, label, 1.0)
        out = draw_faces(img, [face])
        assert tuple(out[160, 100]) == class_rgb(label), label
        text = text_rgb_on(class_rgb(label))
        near = (np.abs(out[70:98, 100:200].astype(int) - text) < 40).all(axis=2)  # anti-aliased text
        assert near.sum() > 20, f"{label}: no {text} text in the tag"
    assert text_rgb_on(class_rgb("happy")) == (0, 0, 0) and text_rgb_on(class_rgb("sad")) == (255, 255, 255)
    bare = draw_faces(img, [Face(Box(100, 100, 120, 120), True)])
    assert tuple(bare[160, 100]) == GREEN


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
    candidates = ["#0", "#1", "#2", "#3", "happy 90%", "#0 happy 90%", "#1 happy 90%", "#2 happy 90%"]
    assert _read_tag(out, faces[0].box, candidates) == "#1 happy 90%"
    assert _read_tag(out, faces[1].box, candidates) == "#2"  # no label: the number alone
    plain = draw_faces(np.zeros((400, 400, 3), np.uint8), faces)
    assert _read_tag(plain, faces[0].box, candidates) == "happy 90%"
    assert _read_tag(plain, faces[1].box, candidates) is None  # unnumbered and unlabelled: no tag


def _read_tag(out: np.ndarray, box: Box, candidates: list[str]) -> str | None:
    """The text of the tag drawn for ``box``: the longest candidate that, drawn over the picture as a tag
    (its fill read from the picture, Hershey text in the colour that reads on it), changes no pixel; None
    when none fits."""
    import cv2

    from fer_core.inference.draw import tag_layout

    found = None
    for text in candidates:
        (x0, y0, x1, y1), origin, scale, thick = tag_layout(out.shape, text, box)
        r, g, b = (int(v) for v in out[y0, x0])
        fill = (r, g, b)
        ref = out.copy()
        cv2.rectangle(ref, (x0, y0), (x1, y1), fill, -1)
        cv2.putText(ref, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, text_rgb_on(fill), thick, cv2.LINE_AA)
        if np.array_equal(ref, out) and (found is None or len(text) > len(found)):
            found = text
    return found


def test_mark_error_marks_corner() -> None:
    out = mark_error(np.zeros((50, 50, 3), np.uint8))
    assert out[:10, :10].any() and not out[20:, 20:].any()
    assert mark_error(None).shape == (48, 64, 3)


def test_tags_near_an_edge_stay_on_the_picture() -> None:
    """A long tag on a small picture, and faces in every corner: the text ends inside its tag (issue 13)."""
    import cv2

    from fer_core.inference.draw import tag_layout

    text = "#1 surprise 100%"
    for h, w in ((120, 120), (90, 200), (480, 640), (1600, 1200)):
        for bx, by, bw, bh in ((0, 0, w, h), (w - 30, 0, 30, 30), (0, h - 30, 30, 30), (w - 30, h - 30, 30, 30),
                               (w // 2, 2, 20, 20), (2, h // 2, 10, 10)):
            box = Box(bx, by, bw, bh)
            (x0, y0, x1, y1), (ox, oy), scale, thick = tag_layout((h, w, 3), text, box)
            (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
            assert 0 <= x0 < x1 <= w - 1 and 0 <= y0 < y1 <= h - 1, (h, w, box)
            assert x0 <= ox and ox + tw <= x1 and y0 <= oy - th and oy + base <= y1 + 1, (h, w, box)
    # the drawn pixels: a full-picture face on a small white photo; no black text at its right edge
    out = draw_faces(np.full((120, 120, 3), 255, np.uint8),
                     [Face(Box(0, 0, 120, 120), True, {"surprise": 1.0}, "surprise", 1.0)], numbered=True)
    (x0, y0, x1, y1), _, _, _ = tag_layout(out.shape, text, Box(0, 0, 120, 120))
    assert (out[y0:y1 + 1, x0:x1 + 1] == class_rgb("surprise")).all(axis=2).mean() > 0.5  # the tag is there
    band = out[y0:y1 + 1, x1 - 4:x1 + 1]
    assert not (band < 60).all(axis=2).any(), "the text runs off the right edge"


def test_a_face_crop_drawn_whole_keeps_every_pixel_in_view() -> None:
    """The tag goes on a strip below the picture, never over the face (mouth and chin stay visible)."""
    from fer_core.inference.draw import draw_whole_face, tag_layout

    for h, w in ((94, 78), (600, 480), (60, 200)):
        img = np.random.default_rng(0).integers(0, 200, (h, w, 3)).astype(np.uint8)
        face = Face(Box(0, 0, w, h), True, {"happy": 0.96, "sad": 0.04}, "happy", 0.96)
        out = draw_whole_face(img, face)
        assert out.shape[0] > h and out.shape[1] == w
        inset = 4  # inside the box's lines, the picture is untouched
        assert np.array_equal(out[inset:h - inset, inset:w - inset], img[inset:h - inset, inset:w - inset])
        strip = out[h + 2:]
        assert (strip == class_rgb("happy")).all(axis=2).any(), "the label tag is drawn on the strip"
        (_, y0, _, y1), _, _, _ = tag_layout(out.shape, face_text(face), face.box)
        assert y0 > h and y1 < out.shape[0], (h, w, y0, y1, out.shape)
    unlabelled = Face(Box(0, 0, 78, 94), True)
    assert draw_whole_face(np.zeros((94, 78, 3), np.uint8), unlabelled).shape == (94, 78, 3)
