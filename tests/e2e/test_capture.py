"""Capture in a real browser: the fake camera (a real face) streams over WebRTC, the page saves face crops
under FER_CAPTURE_ROOT/<class>/, and the Teach page lists them."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from fer_core.data.imageio import read_image
from tests.e2e.support import (
    exception_texts,
    open_app_page,
    single,
    start_webrtc,
    stop_webrtc,
    wait_for_app,
    wait_for_text,
)

START_TIMEOUT_S = 60
CAPTURE_TIMEOUT_S = 120  # ICE on loopback, first frames, 3 pictures 0.5 s apart on a busy CPU
N_PICTURES = 3


def _set_number(page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")
    wait_for_app(page)


def _new_class(page, name: str) -> None:
    """Choose 'New class…' in the Class selectbox and type ``name``."""
    single(page.get_by_label("Class", exact=True)).click()
    single(page.get_by_role("option", name=re.compile("New class"))).click()
    wait_for_app(page)
    box = page.get_by_label("New class name", exact=True)
    box.fill(name)
    box.press("Enter")
    wait_for_app(page)


def test_capture_saves_face_crops_from_the_camera(page, app_server, screenshot):
    root = Path(app_server.env["FER_CAPTURE_ROOT"])
    open_app_page(page, app_server.url, "Capture")
    assert not exception_texts(page), exception_texts(page)
    _new_class(page, "e2e smile")
    wait_for_text(page, "Pictures go to your e2e_smile pictures", timeout=30)
    _set_number(page, "Seconds between pictures", "0.5")
    _set_number(page, "Pictures to take", str(N_PICTURES))

    start_webrtc(page, timeout=START_TIMEOUT_S)
    try:
        wait_for_text(page, r"Suggestion: \w+ \d+%", timeout=CAPTURE_TIMEOUT_S)
        single(page.get_by_role("button", name="Start capturing")).click()
        wait_for_text(page, rf"Saved: {N_PICTURES} / {N_PICTURES}", timeout=CAPTURE_TIMEOUT_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{app_server.log_tail()}") from None
    assert not exception_texts(page), exception_texts(page)
    screenshot(page, "capture")

    files = sorted((root / "e2e_smile").glob("*.jpg"))
    assert len(files) == N_PICTURES, files
    for f in files:
        img = read_image(f)
        h, w = img.shape[:2]
        assert 40 <= h < 480 and 40 <= w < 640, (f, img.shape)  # a face crop, not the whole frame
    stop_webrtc(page)

    # The Teach page's review grid lists them.
    open_app_page(page, app_server.url, "Teach")
    assert not exception_texts(page), exception_texts(page)
    wait_for_text(page, rf"{N_PICTURES} of {N_PICTURES} pictures of e2e_smile", timeout=30)
    assert page.locator('[data-testid="stImage"]').count() >= N_PICTURES
    screenshot(page, "teach")


def test_choosing_a_class_while_the_camera_plays_keeps_it_playing(page, app_server):
    """The page says: press START, choose a class, then Start capturing. Done in that order the stream must
    keep playing through the class choice, and the pictures must be saved."""
    root = Path(app_server.env["FER_CAPTURE_ROOT"])
    open_app_page(page, app_server.url, "Capture")
    _set_number(page, "Seconds between pictures", "0.5")
    _set_number(page, "Pictures to take", str(N_PICTURES))
    start_webrtc(page, timeout=START_TIMEOUT_S)
    try:
        wait_for_text(page, r"Suggestion: \w+ \d+%", timeout=CAPTURE_TIMEOUT_S)
        single(page.get_by_label("Class", exact=True)).click()
        single(page.get_by_role("option", name="surprise", exact=True)).click()
        wait_for_text(page, "Pictures go to your surprise pictures", timeout=30)  # the page loops while it plays
        single(page.get_by_role("button", name="Start capturing")).click()
        wait_for_text(page, rf"Saved: {N_PICTURES} / {N_PICTURES}", timeout=CAPTURE_TIMEOUT_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{app_server.log_tail()}") from None
    assert not exception_texts(page), exception_texts(page)
    assert len(list((root / "surprise").glob("*.jpg"))) == N_PICTURES
    stop_webrtc(page)
    shutil.rmtree(root / "surprise")  # the server is shared: the Teach tests expect only their own classes
