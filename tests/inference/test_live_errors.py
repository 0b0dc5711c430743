"""The live frame callback never raises: a frame that makes the pipeline fail passes through with
a small red mark, each kind of error is logged once, and the next good frame is processed.

The pipeline is real (tiny trained model, Haar); only its detector is made to fail on purpose.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import HaarDetector
from fer_core.inference.live import LiveProcessor
from fer_core.inference.pipeline import Pipeline
from fer_core.inference.stream import StreamOptions

RED = np.array([230, 40, 40], np.uint8)


class FlakyDetector(HaarDetector):
    """Haar that raises while ``fail`` is set (a multi-line message, like many library errors)."""

    fail = False

    def detect(self, image):
        if self.fail:
            raise RuntimeError("detector exploded\nsecond line of the message")
        return super().detect(image)


class FailingClassifier:
    """The real classifier, made to fail on demand."""

    def __init__(self, real) -> None:
        self.real, self.card, self.class_names, self.fail = real, real.card, real.class_names, True

    def predict(self, crops, tta=None):
        if self.fail:
            raise ValueError("model broke")
        return self.real.predict(crops, tta=tta)


def _failure_logs(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "fer_core.inference.live" and "failed" in r.getMessage()]


@pytest.fixture()
def flaky(tiny_model_dir):
    det = FlakyDetector()
    proc = LiveProcessor(Pipeline(get_classifier(tiny_model_dir), det),
                         StreamOptions(async_classify=False, detect_every=1, smoothing=False))
    yield proc, det
    proc.close()


def _has_box(out: np.ndarray, frame: np.ndarray) -> bool:
    return not np.array_equal(out, frame)


def test_detector_failure_marks_frames_logs_once_and_stream_goes_on(flaky, astronaut, caplog):
    proc, det = flaky
    caplog.set_level(logging.INFO, logger="fer_core.inference.live")
    out = proc.process(astronaut)
    assert _has_box(out, astronaut) and proc.snapshot().label is not None
    det.fail = True
    for _ in range(3):
        out = proc.process(astronaut)
        assert out.shape == astronaut.shape and out.dtype == np.uint8
        assert (out[:10, :10] == RED).all()  # the error mark
        assert np.array_equal(out[10:], astronaut[10:])  # otherwise the frame as it came
    stats = proc.snapshot()
    assert stats.error and stats.error.startswith("RuntimeError: detector exploded")
    assert "\n" not in stats.error
    assert len(_failure_logs(caplog)) == 1  # once per kind, not once per frame
    det.fail = False
    out = proc.process(astronaut)
    assert _has_box(out, astronaut) and not (out[:10, :10] == RED).all()
    assert proc.snapshot().frames == 5
    assert proc.snapshot().error is None  # a good classification clears it


@pytest.mark.parametrize("bad", [
    None, "not a frame", np.zeros((10, 10, 2), np.uint8), np.zeros((0, 0, 3), np.uint8),
    np.zeros((4, 4, 4, 4), np.uint8), np.full((64, 64, 3), np.nan, np.float32), np.zeros((64, 64), np.uint8),
    np.zeros((3, 5000, 3), np.uint8),
], ids=["none", "str", "2ch", "empty", "4d", "nan", "gray", "strip"])
def test_odd_frames_never_raise(flaky, astronaut, bad):
    proc, _ = flaky
    out = proc.process(bad)
    assert isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    good = proc.process(astronaut)
    assert good.shape == astronaut.shape and _has_box(good, astronaut)


def test_each_kind_logged_once(flaky, astronaut, caplog):
    proc, _ = flaky
    caplog.set_level(logging.INFO, logger="fer_core.inference.live")
    for _ in range(3):
        for bad in (None, np.zeros((10, 10, 2), np.uint8), np.zeros((4, 4, 4, 4), np.uint8)):
            proc.process(bad)
    kinds = {r.getMessage().split("(")[1].split(")")[0] for r in _failure_logs(caplog)}
    assert len(_failure_logs(caplog)) == len(kinds) >= 1
    assert proc.snapshot().frames == 9


def test_worker_failure_in_async_mode(tiny_model_dir, astronaut, caplog):
    """The classifier fails in the worker thread: frames keep flowing, the error shows, then clears."""
    caplog.set_level(logging.INFO, logger="fer_core.inference.live")
    clf = FailingClassifier(get_classifier(tiny_model_dir))
    proc = LiveProcessor(Pipeline(clf, HaarDetector()), StreamOptions(async_classify=True, detect_every=1))
    try:
        for _ in range(4):
            assert proc.process(astronaut).shape == astronaut.shape
            proc.wait_idle()
        _wait(lambda: proc.snapshot().error is not None)
        assert proc.snapshot().error.startswith("ValueError: model broke")
        assert proc.snapshot().label is None
        assert len(_failure_logs(caplog)) == 1
        clf.fail = False
        for _ in range(4):
            proc.process(astronaut)
            proc.wait_idle()
        _wait(lambda: proc.snapshot().label is not None)
        assert proc.snapshot().error is None and proc.snapshot().frames == 8
    finally:
        proc.close()


def _wait(cond, timeout: float = 10.0) -> None:
    import time

    end = time.perf_counter() + timeout
    while not cond():
        assert time.perf_counter() < end, "timed out"
        time.sleep(0.01)
