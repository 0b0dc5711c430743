"""fer_core.colors: one colour per class, for charts (hex) and drawn boxes (RGB) alike."""

from __future__ import annotations

from fer_core.colors import CLASS_COLORS, EXTRA_COLORS, NO_FACE, NO_FACE_COLOR, class_color, class_rgb, text_rgb_on


def test_a_class_is_one_colour_by_any_spelling_and_in_both_forms() -> None:
    assert class_color("Happiness") == class_color("happy") == CLASS_COLORS["happy"]
    assert class_rgb("happy") == (0xF2, 0xB7, 0x01)
    assert class_color(NO_FACE) == class_color("unsorted") == NO_FACE_COLOR
    own = class_color("my smirk")
    assert own in EXTRA_COLORS and class_color("My Smirk") == own  # a captured class: the same everywhere
    assert len(set(CLASS_COLORS.values())) == len(CLASS_COLORS)


def test_tag_text_is_the_one_that_contrasts_more() -> None:
    assert text_rgb_on((255, 255, 255)) == (0, 0, 0) and text_rgb_on((0, 0, 0)) == (255, 255, 255)
    assert text_rgb_on(class_rgb("happy")) == (0, 0, 0)  # yellow
    assert text_rgb_on(class_rgb("sad")) == (255, 255, 255)  # dark blue
