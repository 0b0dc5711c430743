"""Calibrate to my face in a real browser: START with Chromium's fake camera (its face video stands in for each
expression), calibrate, the readout says the labels are calibrated for this person; a reload keeps it; a second
browser (another owner on a private server) does not see it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import support
from tests.e2e.support import chromium_pages, exception_texts, main_text, open_app_page, start_webrtc, wait_for_text

CALIBRATED = re.compile(r"calibrated for you \((\d) expressions\)")


@pytest.fixture()
def private_server(browser_ready: None, tmp_path: Path) -> Iterator[support.StreamlitServer]:
    with support.app_server_with(tmp_path, FER_OWNER_ROOT=str(tmp_path / "owners"), FER_OWNERS="private") as server:
        yield server


@pytest.fixture()
def two_cameras(playwright_driver: Any, tmp_path: Path, fake_camera: Path) -> Iterator[list[Any]]:
    with chromium_pages(playwright_driver, tmp_path, 2, camera=fake_camera) as pages:
        yield pages


def test_a_calibration_is_the_browsers_own_and_survives_a_reload(private_server, two_cameras, screenshot):
    ann, bob = two_cameras
    open_app_page(ann, private_server.url, "Live_webcam")
    start_webrtc(ann, timeout=60)
    try:
        wait_for_text(ann, r"Frames processed:\s*[1-9]", timeout=120)
        support.single(ann.get_by_role("button", name="Calibrate to my face")).click()
        wait_for_text(ann, r"3 of \d\.", timeout=120)  # two expressions held and kept, the third prompted
        support.single(ann.get_by_role("button", name="Finish now")).click()
        wait_for_text(ann, CALIBRATED, timeout=60)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{private_server.log_tail()}") from None
    assert CALIBRATED.search(main_text(ann)).group(1) == "2"
    assert not exception_texts(ann), exception_texts(ann)
    screenshot(ann, "live_calibrated")
    saved = list(Path(private_server.env["FER_OWNER_ROOT"]).glob("*/calibrations/default.json"))
    assert len(saved) == 1, saved

    open_app_page(ann, private_server.url, "Live_webcam")  # a reload: the same browser, the same owner
    wait_for_text(ann, CALIBRATED, timeout=60)
    assert ann.get_by_role("button", name="Calibrate again").count() == 1

    open_app_page(bob, private_server.url, "Live_webcam")
    wait_for_text(bob, "Calibrate to my face", timeout=60)
    assert not CALIBRATED.search(main_text(bob)), "another browser's calibration is never shown or used"
    assert not exception_texts(bob), exception_texts(bob)
