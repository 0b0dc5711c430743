"""The Video page in a real browser: a video of a real face goes through the file input, is analysed in
the background while a progress bar shows, and comes back with the annotated video playing in the page,
the timeline chart and both downloads (the CSV is downloaded and checked)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from tests.corpus.make_bad_videos import FPS, FRAMES, NO_FACE, face_frames, write_video
from tests.e2e.support import (
    ChartSpecs,
    assert_one_colour_per_class,
    exception_texts,
    main_text,
    open_app_page,
    single,
    wait_for_app,
    wait_for_text,
)

RESULT_TIMEOUT_S = 300  # the server loads TensorFlow and traces the model's batch sizes on a busy CPU
SECONDS = FRAMES / FPS  # 4 s, the face gone from 2 s to 3 s


def test_video_page_analyses_an_upload(page, app_server, model_classes, tmp_path: Path, screenshot):
    video = write_video(tmp_path / "interview.mp4", face_frames())
    specs = ChartSpecs(page)
    open_app_page(page, app_server.url, "Video")
    assert not exception_texts(page), exception_texts(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Video")
    uploader.locator('input[type="file"]').set_input_files(str(video))

    try:
        wait_for_text(page, rf"Frames analysed\s*{FRAMES}\b", timeout=RESULT_TIMEOUT_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{app_server.log_tail()}") from None
    wait_for_app(page)  # the run is over and both charts are drawn
    assert not exception_texts(page), exception_texts(page)
    text = main_text(page)
    assert re.search(rf"Frames without a face\s*{len(NO_FACE)}\b", text), text[-1500:]
    dominant = page.locator('[data-testid="stMetric"]').filter(has_text="Dominant expression")
    assert any(c.lower() in dominant.inner_text().lower() for c in model_classes), dominant.inner_text()

    charts = page.locator('[data-testid="stVegaLiteChart"]')
    assert charts.count() == 2, "the timeline and the share of time"
    # one colour per class: the timeline's band and lines and the share-of-time bars agree
    assert len(specs.class_charts()) >= 2
    assert_one_colour_per_class(specs.class_charts(), model_classes)
    assert "↑" not in dominant.inner_text() and "of the time" in dominant.inner_text()  # a share, not a rise
    # the annotated video plays in the page: the browser reads its length from the H.264 mp4
    player = page.locator("video")
    assert player.count() == 1
    page.wait_for_function("() => { const v = document.querySelector('video'); return v && v.readyState >= 1; }",
                           timeout=30_000)
    assert abs(player.evaluate("v => v.duration") - SECONDS) < 0.5

    for label in ("Download timeline (CSV)", "Download annotated video (MP4)"):
        assert page.get_by_text(label).count() == 1, label
    with page.expect_download(timeout=30_000) as download:
        single(page.get_by_text("Download timeline (CSV)")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == FRAMES
    assert sum(1 for r in rows if not r["label"]) == len(NO_FACE)
    assert {r["label"] for r in rows if r["label"]} <= set(model_classes)
    assert not page.errors, page.errors

    page.locator('[data-testid="stMetric"]').first.evaluate("e => e.scrollIntoView({block: 'start'})")
    # the first frame painted, no buffering spinner in the picture
    page.wait_for_function("() => document.querySelector('video').readyState >= 3", timeout=30_000)
    page.wait_for_timeout(800)
    screenshot(page, "video")
