"""Drawing faces on a picture: a box per face and a label tag, the largest face highlighted.

Why: the upload page, the live video and any script show results the same way; one
drawing routine keeps the colours and the label placement consistent. The largest face's box and
tag take its expression's colour (``fer_core.colors``), the one the charts beside it use.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import cv2
import numpy as np

from fer_core.colors import class_rgb, text_rgb_on
from fer_core.data.imageio import ensure_rgb
from fer_core.data.labels import label_score
from fer_core.inference.detection import Box

GREEN = (60, 220, 60)  # the largest face before it has a label
GREY = (235, 235, 235)  # other faces: near white inside a dark edge, visible on light and dark pictures
EDGE = (30, 30, 30)
RED = (230, 40, 40)  # errors


def line_width(height: int) -> int:
    """Box line thickness that stays visible on small and large pictures."""
    return max(1, height // 240)


MIN_SCALE = 0.3  # below this OpenCV's Hershey text is unreadable; such tags are clipped instead


def tag_layout(shape: tuple[int, ...], text: str, box: Box
               ) -> tuple[tuple[int, int, int, int], tuple[int, int], float, int]:
    """Where a label tag goes: its rectangle ``(x0, y0, x1, y1)`` (inclusive), the text origin, scale, thickness.

    Why: a face near an edge (or a long tag on a small picture) must not push its label off the
    picture: the tag goes above the box, else below it, else inside at the bottom, is shifted left
    from the right edge, and its text shrinks until the tag fits the picture's width.
    """
    h, w = shape[:2]
    scale = max(0.45, min(h, w) / 900 * 1.4)
    thick = 1 + int(scale > 0.7)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    while tw + 7 > w and scale > MIN_SCALE:
        scale = max(MIN_SCALE, scale * 0.9)
        thick = 1 + int(scale > 0.7)
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    tag_h = th + 4 + base  # rows from the tag's top to its bottom
    if box.y - 6 + base - tag_h >= 0:  # above the box
        y1 = box.y - 6 + base
    else:  # below the box, or at the picture's bottom
        y1 = min(h - 1, box.y + box.h + tag_h + 6)
    y1 = max(y1, min(h - 1, tag_h))
    x0 = max(0, min(box.x, w - tw - 7))
    rect = (x0, max(0, y1 - tag_h), min(w - 1, x0 + tw + 6), y1)
    return rect, (x0 + 3, y1 - base - 2), scale, thick


def put_label(img: np.ndarray, text: str, box: Box, color: tuple[int, int, int]) -> None:
    """A filled tag above the box (below it when there is no room above), inside the picture, its text
    black or white, whichever reads on the fill."""
    (x0, y0, x1, y1), origin, scale, thick = tag_layout(img.shape, text, box)
    cv2.rectangle(img, (x0, y0), (x1, y1), color, -1)
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, text_rgb_on(color), thick, cv2.LINE_AA)


def box_color(highlight: bool, label: str | None) -> tuple[int, int, int]:
    """The largest face in its expression's colour (green until it has one), the others grey."""
    if not highlight:
        return GREY
    return class_rgb(label) if label else GREEN


def draw_box(img: np.ndarray, box: Box, text: str | None = None, highlight: bool = True,
             label: str | None = None) -> None:
    """Draw one face box (in place) with an optional label tag; ``label`` is the class the tag names."""
    color = box_color(highlight, label)
    t = line_width(img.shape[0]) + 1
    # a dark edge on both sides of the line: a pale or grey line alone vanished on pale skin and walls
    cv2.rectangle(img, (box.x, box.y), (box.x + box.w, box.y + box.h), EDGE, t + 2)
    cv2.rectangle(img, (box.x, box.y), (box.x + box.w, box.y + box.h), color, t)
    if text:
        put_label(img, text, box, color)


def face_text(face: Any) -> str | None:
    """``happy 87%`` (``label_score``) for a classified face, ``None`` for one without a label."""
    if getattr(face, "label", None) is None:
        return None
    return label_score(face.label, getattr(face, "score", None))


def draw_faces(rgb: np.ndarray, faces: Iterable[Any], numbered: bool = False) -> np.ndarray:
    """A copy of ``rgb`` (RGB or gray) with every face's box and label; the largest in its class colour.

    ``faces`` are ``fer_core.inference.pipeline.Face`` objects (anything with ``box``, ``is_largest``,
    ``label``, ``score``). With ``numbered`` each tag starts with the face's number (``#2 sad 40%``),
    matching the rows of a results table.
    """
    out: np.ndarray = np.array(rgb, dtype=np.uint8, copy=True)
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2RGB)
    elif out.shape[2] == 4:
        out = np.ascontiguousarray(out[:, :, :3])
    faces = list(faces)
    # draw the largest last so its tag is never hidden under another face's
    order = sorted(range(len(faces)), key=lambda i: bool(getattr(faces[i], "is_largest", False)))
    for i in order:
        face = faces[i]
        text = face_text(face)
        if numbered:
            text = f"#{i + 1} {text}" if text else f"#{i + 1}"
        draw_box(out, face.box, text, highlight=bool(getattr(face, "is_largest", False)),
                 label=getattr(face, "label", None))
    return out


def draw_whole_face(rgb: np.ndarray, face: Any) -> np.ndarray:
    """A face crop classified whole: the picture boxed, with a white strip below it for the label tag.

    Why: on a picture that is all face there is no room outside the box, and a tag inside it
    would hide the mouth and chin the expression is read from.
    """
    img = np.asarray(ensure_rgb(rgb), dtype=np.uint8)
    text = face_text(face)
    if not text:
        return draw_faces(img, [face])
    h, w = img.shape[:2]

    def strip(rows: int) -> int:  # the tag's height on a picture ``rows`` taller, plus a gap
        (_, y0, _, y1), _, _, _ = tag_layout((h + rows, w), text, face.box)
        return y1 - y0 + 8

    pad = strip(strip(0))  # the tag's size follows the picture's, which the strip enlarges
    canvas = cv2.copyMakeBorder(np.ascontiguousarray(img), 0, pad, 0, 0, cv2.BORDER_CONSTANT, value=(255, 255, 255))
    return draw_faces(canvas, [face])


def mark_error(rgb: Any) -> np.ndarray:
    """Pass a picture through with a small red corner mark (a frame that failed).

    Always an HxWx3 uint8 array, so a video track can still send it; something that is no
    image at all becomes a small black frame.
    """

    try:
        out = np.array(ensure_rgb(rgb), dtype=np.uint8, copy=True)
        if out.shape[0] >= 12 and out.shape[1] >= 12:
            out[:10, :10] = RED
        return out
    except Exception:  # noqa: BLE001 - a thumbnail must never break a page
        return np.zeros((48, 64, 3), np.uint8)


__all__ = ["GREEN", "GREY", "RED", "box_color", "draw_box", "draw_faces", "draw_whole_face", "face_text", "line_width",
           "mark_error", "put_label", "tag_layout"]
