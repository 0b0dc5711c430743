"""One colour per expression class, for every chart and every box drawn on a picture or video.

Why one place: a user learns "happy is yellow" from one chart and must find it again on the next chart
and on the box around their face. Keyed by the canonical class name, so "happiness" and "happy" share a
colour; a class no model ships (one a user captured) gets a colour chosen by its name, the same everywhere.
"""

from __future__ import annotations

import zlib

from fer_core.data.labels import canonical_class

CLASS_COLORS = {
    "angry": "#d62728", "disgust": "#6b8e23", "fear": "#9467bd", "happy": "#f2b701", "sad": "#1f77b4",
    "surprise": "#ff7f0e", "neutral": "#7f7f7f", "contempt": "#17becf",
}
EXTRA_COLORS = ["#e377c2", "#8c564b", "#bcbd22", "#393b79", "#ad494a", "#3182bd", "#31a354", "#756bb1"]
NO_FACE = "no face"
NO_FACE_COLOR = "#d9d9d9"  # no face, and pictures not yet sorted into a class


def class_color(name: str) -> str:
    """The colour (``#rrggbb``) of a class on every chart and box of the app."""
    if name in (NO_FACE, "unsorted"):
        return NO_FACE_COLOR
    key = canonical_class(name)
    return CLASS_COLORS.get(key) or EXTRA_COLORS[zlib.crc32(key.encode("utf-8")) % len(EXTRA_COLORS)]


def class_rgb(name: str) -> tuple[int, int, int]:
    """``class_color`` as an RGB triple, for drawing on pictures."""
    hex_color = class_color(name).lstrip("#")
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (0, 2, 4))
    return r, g, b


def text_rgb_on(fill: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on ``fill`` (by its relative luminance, as WCAG weighs it)."""
    def linear(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    lum = 0.2126 * linear(fill[0]) + 0.7152 * linear(fill[1]) + 0.0722 * linear(fill[2])
    return (0, 0, 0) if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else (255, 255, 255)


__all__ = ["CLASS_COLORS", "EXTRA_COLORS", "NO_FACE", "NO_FACE_COLOR", "class_color", "class_rgb", "text_rgb_on"]
