"""A full server in a real browser (issue 15): with FER_MAX_LIVE_SESSIONS=1 a second browser's START gets
"The server is full (1 live session): try again in a minute", its stream is stopped by the page (START is
offered again, no frozen video), and once the first browser stops, the second one's START is labelled."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e import support
from tests.e2e.support import (
    WEBRTC_IFRAME,
    chromium_pages,
    exception_texts,
    open_app_page,
    start_webrtc,
    stop_webrtc,
    wait_for_text,
)

FULL = "The server is full (1 live session): try again in a minute."
LABEL_S = 120  # START to a label on a busy machine (model load on first use included)


@pytest.fixture()
def capped_server(browser_ready: None, tmp_path: Path) -> Iterator[support.StreamlitServer]:
    with support.app_server_with(tmp_path, FER_MAX_LIVE_SESSIONS="1") as server:
        yield server


@pytest.fixture()
def two_pages(playwright_driver: Any, fake_camera: Path, tmp_path: Path) -> Iterator[list[Any]]:
    with chromium_pages(playwright_driver, tmp_path, 2, camera=fake_camera) as pages:
        yield pages


def test_second_session_beyond_the_cap_is_told_the_server_is_full(capped_server: support.StreamlitServer,
                                                                  two_pages: list[Any],
                                                                  model_classes: list[str]) -> None:
    first, second = two_pages
    labels = "|".join(re.escape(c) for c in model_classes)
    labelled = re.compile(rf"(?s)(?=.*Expression:\s*({labels})\b)(?=.*Frames processed:\s*[1-9])", re.IGNORECASE)
    for page in two_pages:
        open_app_page(page, capped_server.url, "Live_webcam")
    start_webrtc(first, timeout=60)
    try:
        wait_for_text(first, labelled, timeout=LABEL_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{capped_server.log_tail()}") from None

    start_webrtc(second, timeout=60)
    wait_for_text(second, re.escape(FULL), timeout=60)
    # the page stopped that stream: START is offered again, no readout from a stream that plays
    frame = second.frame_locator(WEBRTC_IFRAME).first
    try:
        frame.get_by_role("button", name="START").wait_for(timeout=30_000)
    except Exception as exc:  # playwright's TimeoutError: say what the streamer shows instead, and the server's log
        buttons, alerts = frame.locator("button").all_inner_texts(), frame.get_by_role("alert").all_inner_texts()
        raise AssertionError(f"no START 30 s after the refusal; the streamer's buttons: {buttons}, its alerts: "
                             f"{alerts}\n{capped_server.log_tail()}") from exc
    # once the page's next run is drawn (the readout of the refused stream can linger for one refresh)
    deadline = time.monotonic() + 30
    text = second.inner_text('[data-testid="stApp"]')
    while "Frames processed" in text and time.monotonic() < deadline:
        second.wait_for_timeout(500)
        text = second.inner_text('[data-testid="stApp"]')
    assert "Frames processed" not in text and FULL in text
    assert not exception_texts(second), exception_texts(second)
    wait_for_text(first, r"Frames processed:\s*[1-9]", timeout=10)  # the first one plays on

    stop_webrtc(first)
    wait_for_text(first, "stream is stopped", timeout=30)
    start_webrtc(second, timeout=60)
    try:
        wait_for_text(second, labelled, timeout=LABEL_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n{capped_server.log_tail()}") from None
    assert FULL not in second.inner_text('[data-testid="stApp"]')
