"""The live webcam page in a real browser: Chromium's fake camera plays a face video over WebRTC to the
server, which must classify it and report frames while the stream plays."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from tests.e2e.support import (
    ChartSpecs,
    assert_one_colour_per_class,
    exception_texts,
    open_app_page,
    single,
    start_webrtc,
    stop_webrtc,
    wait_for_text,
)

START_TIMEOUT_S = 60  # iframe + START button (the page loads the model first)
STREAM_TIMEOUT_S = 90  # ICE on loopback, first frames, first classification on a busy CPU


def test_live_webcam_classifies_the_fake_camera(page, app_server, model_classes, screenshot):
    specs = ChartSpecs(page)
    open_app_page(page, app_server.url, "Live_webcam")
    assert not exception_texts(page), exception_texts(page)

    start_webrtc(page, timeout=START_TIMEOUT_S)
    t_start = time.monotonic()

    labels = "|".join(re.escape(c) for c in model_classes)
    frames_rx = re.compile(r"Frames processed:\s*([\d,]+)")
    expr_rx = re.compile(rf"Expression:\s*({labels})\b", re.IGNORECASE)
    try:
        # Both lines, with at least one processed frame, in the same rendering of the page.
        wait_for_text(page, re.compile(rf"(?s)(?=.*{expr_rx.pattern})(?=.*Frames processed:\s*[1-9])",
                                       re.IGNORECASE), timeout=STREAM_TIMEOUT_S, poll=0.1)  # 0.1 s: the timing below
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{app_server.log_tail()}") from None

    to_label_s = time.monotonic() - t_start
    text = page.inner_text('[data-testid="stApp"]')
    label = expr_rx.search(text).group(1)
    record_start_timing(to_label_s, text)
    frames = int(frames_rx.search(text).group(1).replace(",", ""))
    assert label.lower() == "happy", text[-1500:]  # the fake camera plays the smiling astronaut
    assert frames > 0
    assert "stream is stopped" not in text, "the 'stopped' notice lingers while the stream plays"
    # Still streaming: the counter keeps going up while the page refreshes.
    page.wait_for_timeout(2500)
    later = int(frames_rx.search(page.inner_text('[data-testid="stApp"]')).group(1).replace(",", ""))
    assert later > frames, f"frames stopped at {frames}"
    assert not exception_texts(page), exception_texts(page)
    screenshot(page, "live")

    # STOP ends the page's refresh loop: the script run finishes and says the stream is stopped.
    stop_webrtc(page)
    wait_for_text(page, "stream is stopped", timeout=30)
    # After STOP: no stale figures, the session's timeline charted and downloadable as CSV.
    text = page.inner_text('[data-testid="stApp"]')
    assert "Expression: —" in text and "FPS:" not in text
    with page.expect_download(timeout=30_000) as download:
        single(page.get_by_role("button", name="Download this session (CSV)")).click()
    csv_text = Path(download.value.path()).read_text()
    header, *rows = csv_text.splitlines()
    assert header.startswith("time_s,frame,x,y,w,h,label,score") and len(rows) >= 1
    assert any(f",{label}," in csv_text for label in model_classes)
    # one colour per class: the probability bars and the timelines (the last minute, the session) agree
    # with each other and with every other page
    shown = specs.class_charts()
    assert len(shown) >= 2, [s.get("title") for s in specs.specs]
    assert_one_colour_per_class(shown, model_classes)


def record_start_timing(to_label_s: float, text: str) -> None:
    """Write START -> first label (browser) and first frame -> first label (server) to the artifacts.

    Why: a figure to follow (the goal is under 2 s), split into the connection (START to the first
    frame on the server) and the model (first frame to first label). Recorded, never asserted.
    """
    from tests.e2e.conftest import ARTIFACTS

    server = re.search(r"First label:\s*([\d.]+) s", text)
    figures = {"start_to_label_s": round(to_label_s, 2),
               "first_frame_to_label_s": float(server.group(1)) if server else None}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "live_start_timing.json").write_text(json.dumps(figures) + "\n")
    print(f"live start timing: {figures}")
