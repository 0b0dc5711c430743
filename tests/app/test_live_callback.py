"""The live frame callback on real ``av.VideoFrame``s with a real pipeline (model + detector)."""

from __future__ import annotations

import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from fer_core.inference.live import LiveProcessor
from fer_core.inference.stream import StreamOptions
from webui.live import LiveSession, expression_line, live_session, make_frame_callback, stats_lines


def frame_640x480(astronaut: np.ndarray) -> np.ndarray:
    """The astronaut photo scaled into a 640x480 webcam-sized frame."""
    canvas = np.full((480, 640, 3), 30, np.uint8)
    canvas[:, 80:560] = cv2.resize(astronaut, (480, 480), interpolation=cv2.INTER_AREA)
    return canvas


def wait_classified(proc: LiveProcessor, timeout: float = 60.0) -> None:
    """Wait for the worker thread's first classification (slow on a busy CPU: graph tracing)."""
    end = time.monotonic() + timeout
    while proc.snapshot().classified < 1:
        assert time.monotonic() < end, f"no classification within {timeout} s: {proc.snapshot()}"
        time.sleep(0.05)


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path):
    from fer_core.inference.classifier import get_classifier
    from fer_core.inference.detection import make_detector
    from fer_core.inference.pipeline import Pipeline

    return Pipeline(get_classifier(tiny_model_dir), make_detector("haar"))


def test_annotated_frame_same_size_and_stats(pipeline, astronaut: np.ndarray) -> None:
    proc = LiveProcessor(pipeline, StreamOptions(detect_every=1))
    try:
        callback = make_frame_callback(proc)
        rgb = frame_640x480(astronaut)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = 1234
        out = callback(frame)
        assert isinstance(out, av.VideoFrame)
        assert (out.width, out.height) == (640, 480) and out.pts == 1234
        wait_classified(proc)
        for _ in range(3):
            out = callback(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
        arr = out.to_ndarray(format="rgb24")
        assert arr.shape == rgb.shape and not np.array_equal(arr, rgb), "boxes and label drawn"
        stats = proc.snapshot()
        assert stats.frames == 4 and stats.faces >= 1 and stats.classified >= 1
        assert stats.label in pipeline.classifier.class_names
        assert expression_line(stats) == f"Expression: {stats.label} {stats.score:.0%}"
        assert stats_lines(stats)[0] == "Frames processed: 4"
    finally:
        proc.close()


def test_yuv_frames_from_a_camera_work(pipeline, astronaut: np.ndarray) -> None:
    proc = LiveProcessor(pipeline, StreamOptions(async_classify=False))
    try:
        frame = av.VideoFrame.from_ndarray(frame_640x480(astronaut), format="rgb24").reformat(format="yuv420p")
        out = make_frame_callback(proc)(frame)
        assert (out.width, out.height) == (640, 480)
        assert proc.snapshot().frames == 1
    finally:
        proc.close()


def test_pipeline_failure_passes_frame_through(pipeline, astronaut: np.ndarray) -> None:
    class BrokenDetector:
        name = "broken"

        def detect(self, image):
            raise RuntimeError("detector exploded")

    from fer_core.inference.pipeline import Pipeline

    proc = LiveProcessor(Pipeline(pipeline.classifier, BrokenDetector()))
    rgb = frame_640x480(astronaut)
    out = make_frame_callback(proc)(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
    arr = out.to_ndarray(format="rgb24")
    assert arr.shape == rgb.shape
    assert np.array_equal(arr[20:, 20:], rgb[20:, 20:]), "the frame passes through"
    stats = proc.snapshot()
    assert stats.frames == 1 and "detector exploded" in stats.error
    proc.close()


def test_processor_that_raises_never_breaks_the_callback(astronaut: np.ndarray) -> None:
    class Raising:
        def process(self, rgb):
            raise MemoryError("no memory")

    class WrongShape:
        def process(self, rgb):
            return np.zeros((3, 3), np.float64)  # not an RGB image: from_ndarray fails

    rgb = frame_640x480(astronaut)
    for proc in (Raising(), WrongShape()):
        out = make_frame_callback(proc)(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
        arr = out.to_ndarray(format="rgb24")
        assert arr.shape == rgb.shape and np.array_equal(arr[20:, 20:], rgb[20:, 20:])
        assert tuple(arr[0, 0]) != tuple(rgb[0, 0])  # marked in the corner


def test_session_keeps_processor_until_config_changes(pipeline) -> None:
    state: dict = {}
    live = live_session(state)
    assert live.process(np.zeros((4, 4, 3), np.uint8)).shape == (4, 4, 3)  # no processor yet: frames pass
    p1 = live.use(pipeline, StreamOptions(), config=("m", "haar"))
    p2 = live_session(state).use(pipeline, StreamOptions(smoothing=False, detect_every=3), config=("m", "haar"))
    assert p1 is p2 and p2.options.smoothing is False and p2.options.detect_every == 3
    assert live.restart_note() is None, "options changed, the processor and its counters stay"
    p1.process(np.zeros((48, 64, 3), np.uint8))
    p3 = live.use(pipeline, StreamOptions(), config=("other", "haar"))
    assert p3 is not p1 and p1._stop, "the replaced processor's worker is stopped"
    note = live.restart_note()
    assert note is not None and "start again" in note, "the user is told why the counters went back to 0"
    assert live.restart_note() is None, "said once"
    assert isinstance(state["live_session"], LiveSession) and state["live_session"].processor is p3
    live.end_stream()


def test_session_processor_follows_the_servers_load_governor(pipeline) -> None:
    from fer_core.inference.load import shared_governor

    proc = live_session({}).use(pipeline, StreamOptions(), config=("a",))
    assert proc.governor is shared_governor()  # every session of the process follows one governor
    other = live_session({}).use(pipeline, StreamOptions(), config=("b",))
    assert other.governor is proc.governor
    proc.close()
    other.close()


def test_busy_note_says_what_the_level_costs() -> None:
    from fer_core.inference.live import LiveStats
    from fer_core.inference.load import LEVELS
    from webui.live import saturation_note

    assert saturation_note(LiveStats()) is None
    note = saturation_note(LiveStats(load_level=2, load_note=LEVELS[2].describe()))
    assert note is not None and "busy" in note and "every 4th frame" in note and "one view" in note
    both = saturation_note(LiveStats(skipped_share=0.5, load_level=1, load_note=LEVELS[1].describe()))
    assert both is not None and both.startswith("The server is saturated: 50%") and "one view" in both


def test_skipped_frames_are_no_alarm_while_the_video_stays_smooth() -> None:
    from fer_core.inference.live import LiveStats
    from webui.live import saturation_note

    assert saturation_note(LiveStats(skipped_share=0.5, fps=29.0)) is None
    note = saturation_note(LiveStats(skipped_share=0.5, fps=12.0))
    assert note is not None and note.startswith("The server is saturated: 50%")


def test_one_stall_is_not_a_saturated_server_but_steady_drops_are(tiny_model_dir: Path) -> None:
    """30 fps for the last 5 s: one stall that dropped 15 frames at once is no warning (over a 2 s window it would be);
    dropping every other frame throughout is, and the note names the window."""
    from fer_core.inference.classifier import get_classifier
    from fer_core.inference.detection import HaarDetector
    from fer_core.inference.pipeline import Pipeline
    from fer_core.inference.timing import SKIP_WINDOW_S
    from webui.live import saturation_note

    proc = LiveProcessor(Pipeline(get_classifier(tiny_model_dir), HaarDetector()))
    try:
        now = time.perf_counter()
        proc._frame_times.extend(now - i / 30 for i in range(int(SKIP_WINDOW_S * 30), 0, -1))
        proc._skips.append((now - 0.5, 15))
        stats = proc.snapshot()
        assert 0 < stats.skipped_share < 0.1 and saturation_note(stats) is None
        proc._skips.clear()
        proc._skips.extend((now - i / 15, 1) for i in range(int(SKIP_WINDOW_S * 15), 0, -1))
        note = saturation_note(proc.snapshot())
        assert note is not None and note.startswith("The server is saturated: 33%") and "last 5 s" in note
    finally:
        proc.close()
