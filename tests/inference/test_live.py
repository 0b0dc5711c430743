"""Behaviour of the live processor: never waits for the model, draws the newest result, resets on loss."""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np
import pytest

from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import HaarDetector
from fer_core.inference.live import LiveProcessor
from fer_core.inference.pipeline import Pipeline
from fer_core.inference.stream import StreamOptions


class SlowClassifier:
    """The real classifier behind a gate: each predict waits until the test opens it."""

    def __init__(self, real):
        self.real = real
        self.class_names = real.class_names
        self.card = real.card
        self.gate = threading.Event()
        self.calls = 0
        self.callers: set[int] = set()  # the threads that asked for a prediction

    def predict(self, crops, tta=None):
        self.callers.add(threading.get_ident())
        self.gate.wait(timeout=10)
        self.calls += 1
        return self.real.predict(crops, tta=tta)


@pytest.fixture()
def frame(astronaut):
    canvas = np.full((480, 640, 3), 80, np.uint8)
    canvas[40:440, 120:520] = cv2.resize(astronaut, (400, 400))
    return canvas


def test_frames_never_wait_for_the_model(tiny_model_dir, frame):
    slow = SlowClassifier(get_classifier(tiny_model_dir))
    proc = LiveProcessor(Pipeline(slow, HaarDetector()), StreamOptions(detect_every=1))
    for _ in range(5):
        out = proc.process(frame)
    assert slow.calls == 0  # the model is still blocked ...
    assert proc.snapshot().frames == 5  # ... yet every frame came back
    assert threading.get_ident() not in slow.callers  # the video thread never asked the model itself
    assert out.shape == frame.shape
    assert proc.snapshot().label is None  # nothing classified yet: no label drawn
    slow.gate.set()
    assert proc.wait_idle(10)
    assert proc.snapshot().label in slow.class_names
    proc.close()


def test_only_the_newest_job_is_classified(tiny_model_dir, frame):
    slow = SlowClassifier(get_classifier(tiny_model_dir))
    proc = LiveProcessor(Pipeline(slow, HaarDetector()), StreamOptions(detect_every=1))
    for _ in range(8):
        proc.process(frame)
    slow.gate.set()
    assert proc.wait_idle(10)
    # the worker took at most one job before the gate opened and then only the newest: never 8 queued
    assert 1 <= slow.calls <= 2
    proc.close()


def test_result_drawn_is_the_newest(tiny_model_dir, frame):
    proc = LiveProcessor(Pipeline(get_classifier(tiny_model_dir), HaarDetector()),
                         StreamOptions(detect_every=1, async_classify=False, smoothing=False))
    out = proc.process(frame)
    snap = proc.snapshot()
    assert snap.label is not None and snap.classified == 1
    expected = get_classifier(tiny_model_dir).predict([proc.pipeline.crop(frame, proc.pipeline.detect(frame)[0])])[0]
    assert snap.score == pytest.approx(float(expected.max()), abs=1e-4)
    assert not np.array_equal(out, frame)  # box and label drawn


def test_lost_face_resets_smoothing(tiny_model_dir, frame):
    proc = LiveProcessor(Pipeline(get_classifier(tiny_model_dir), HaarDetector()),
                         StreamOptions(detect_every=1, async_classify=False, lost_after=3))
    proc.process(frame)
    assert proc.snapshot().label is not None
    blank = np.full_like(frame, 80)
    proc.process(blank)
    assert proc.snapshot().label is not None  # one missed frame keeps the label
    proc.process(blank)
    proc.process(blank)
    snap = proc.snapshot()
    assert snap.label is None and snap.faces == 0
    assert proc._track.latest is None


class ListedDetector:
    """Returns fixed boxes in a fixed order: the detector's order is what the test is about."""

    def __init__(self, boxes):
        self.boxes = boxes

    def detect(self, rgb):
        return list(self.boxes)


def test_all_faces_readout_follows_the_largest_face_not_the_first_listed(default_model_dir, astronaut):
    from fer_core.inference.detection import Box

    frame = np.full((480, 640, 3), 80, np.uint8)
    frame[300:380, 20:100] = np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8)
    frame[40:440, 220:620] = cv2.resize(astronaut, (400, 400))
    small, big = Box(20, 300, 80, 80), Box(220, 40, 400, 400)
    clf = get_classifier(default_model_dir)  # a trained model: noise and a face get different answers
    pipe = Pipeline(clf, ListedDetector([small, big]))  # the largest face is listed second
    proc = LiveProcessor(pipe, StreamOptions(detect_every=1, async_classify=False, smoothing=False, label_all=True))
    proc.process(frame)
    snap = proc.snapshot()
    p_big, p_small = clf.predict([pipe.crop(frame, f) for f in pipe.detect(frame)])  # sorted: largest first
    # the two faces really get different answers
    assert abs(float(p_small.max()) - float(p_big.max())) > 0.01 or p_small.argmax() != p_big.argmax()
    assert snap.score == pytest.approx(float(p_big.max()), abs=1e-4)
    assert snap.label == clf.class_names[int(p_big.argmax())]
    assert snap.faces == 2


def test_first_label_time_is_measured_from_the_first_frame(default_model_dir, frame):
    proc = LiveProcessor(Pipeline(get_classifier(default_model_dir), HaarDetector()),
                         StreamOptions(detect_every=1, async_classify=False))
    assert proc.snapshot().first_label_ms is None
    before = time.perf_counter()
    proc.process(np.full_like(frame, 80))  # the stream starts on a frame without a face
    faceless_done = time.perf_counter()
    time.sleep(1.0)  # far longer than one face frame takes, so that counting from the face would show
    face_start = time.perf_counter()
    proc.process(frame)
    first = proc.snapshot().first_label_ms
    # counted from the first frame, so it spans the wait between the two frames; clock readings in
    # order, not a speed bound
    assert first is not None and face_start - faceless_done <= first / 1000 <= time.perf_counter() - before
    proc.process(frame)
    assert proc.snapshot().first_label_ms == first  # set once per stream
    proc.reset()
    assert proc.snapshot().first_label_ms is None


def test_timeline_since_start_kept_after_stop_until_the_next_stream(default_model_dir, frame):
    proc = LiveProcessor(Pipeline(get_classifier(default_model_dir), HaarDetector()),
                         StreamOptions(detect_every=1, async_classify=False, lost_after=2))
    for _ in range(3):
        proc.process(frame)
    blank = np.full_like(frame, 80)
    proc.process(blank)
    proc.process(blank)  # the face is lost: one row without a face
    rows = proc.timeline()
    assert [r.box is not None for r in rows] == [True, True, True, False]
    assert rows[0].label in proc.pipeline.classifier.class_names and rows[0].probabilities
    assert all(a.time <= b.time for a, b in zip(rows, rows[1:])) and rows[0].time >= 0
    proc.reset()  # STOP: the readout clears, the timeline stays for the download
    assert proc.snapshot().label is None and len(proc.timeline()) == 4
    proc.process(frame)  # the next stream's first frame starts a new timeline
    assert len(proc.timeline()) == 1


class RecordingClassifier:
    """The real classifier, noting which test-time views each call asked for."""

    def __init__(self, real):
        self.real = real
        self.class_names = real.class_names
        self.card = real.card
        self.tta_asked: list[object] = []

    def predict(self, crops, tta=None):
        self.tta_asked.append(tta)
        return self.real.predict(crops, tta=tta)


class CountingDetector(HaarDetector):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def detect(self, rgb):
        self.calls += 1
        return super().detect(rgb)


def governor_at(level: int):
    """A real governor driven to ``level`` by surging CPU use on a hand-moved clock, then frozen there."""
    from fer_core.inference.load import LoadGovernor

    machine = {"cpu": 0.0, "t": 0.0}
    g = LoadGovernor(cores=1, cpu=lambda: machine["cpu"], clock=lambda: machine["t"])
    for _ in range(level):
        machine["t"] += 1.0
        machine["cpu"] += 1.0  # a whole core busy: a surge, one step down each period
        g.observe()
    assert g.quality.level == level
    return g  # the clock stands still from here: no more decisions


@pytest.mark.parametrize("level", [0, 1, 3])
def test_busy_server_means_fewer_views_and_detections(tiny_model_dir, frame, level):
    from fer_core.inference.load import LEVELS

    clf, det = RecordingClassifier(get_classifier(tiny_model_dir)), CountingDetector()
    proc = LiveProcessor(Pipeline(clf, det), StreamOptions(detect_every=2, async_classify=False),
                         governor=governor_at(level))
    for _ in range(12):
        proc.process(frame)
    q = LEVELS[level]
    every = max(2, q.detect_every)
    assert 12 // every <= det.calls <= 12 // every + 1  # the first frame, then one in ``every`` (phase varies)
    assert clf.tta_asked and all((t == []) == q.single_view for t in clf.tta_asked)
    stats = proc.snapshot()
    assert stats.load_level == level
    assert (stats.load_note == "") == (level == 0)
    assert stats.label in clf.class_names  # labels keep coming at every level
    proc.reset()
    assert proc.snapshot().load_level == 0
    proc.process(frame)
    assert proc.snapshot().load_level == level  # the next stream shows the level again
    proc.close()


def test_collecting_keeps_the_models_output_for_the_largest_face(tiny_model_dir, frame):
    clf = get_classifier(tiny_model_dir)
    proc = LiveProcessor(Pipeline(clf, HaarDetector()), StreamOptions(detect_every=1, async_classify=False))
    proc.process(frame)
    assert proc.collected() == [], "nothing is kept until asked"
    proc.collect(True)
    for _ in range(3):
        proc.process(frame)
    rows = proc.collected()
    expected = clf.predict([proc.pipeline.crop(frame, proc.pipeline.detect(frame)[0])])[0]
    assert len(rows) == 3 and all(np.allclose(r, expected, atol=1e-5) for r in rows), "raw, not smoothed"
    proc.process(np.full_like(frame, 80))  # no face: nothing added
    assert len(proc.collected()) == 3
    proc.collect(False)
    proc.process(frame)
    assert proc.collected() == []
    proc.collect(True)
    proc.process(frame)
    proc.reset()  # the stream ended: a calibration left half-done keeps nothing and gathers no more
    proc.process(frame)
    assert proc.collected() == []
