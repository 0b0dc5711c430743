"""Capture sessions on a synthetic stream of real-face frames (astronaut) at fake clock times."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from fer_core.capture import CaptureConfig, CaptureSession, route
from fer_core.data.curation import FRAMES_DIR, UNSORTED, counts
from fer_core.data.imageio import read_image
from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import make_detector
from fer_core.inference.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path) -> Pipeline:
    # Haar on the full frame: the same detector with or without ../shared (YuNet), and it finds every frame here
    return Pipeline(get_classifier(tiny_model_dir), make_detector("haar", max_side=640))


def _frame(astronaut: np.ndarray, dx: int = 0, dy: int = 0) -> np.ndarray:
    """A 640x480 camera frame: the photo (scaled to 400 px) on a grey background, shifted by (dx, dy)."""
    import cv2

    canvas = np.full((480, 640, 3), 90, np.uint8)
    photo = cv2.resize(astronaut, (400, 400), interpolation=cv2.INTER_AREA)
    x0, y0 = 120 + dx, 40 + dy
    canvas[y0:y0 + 400, x0:x0 + 400] = photo
    return canvas


def _expected_crop(pipeline: Pipeline, frame: np.ndarray) -> np.ndarray:
    face = next(f for f in pipeline.detect(frame) if f.is_largest)
    return pipeline.crop(frame, face)


def test_fixed_class_saves_largest_face_crop_on_the_clock(tmp_path, pipeline, astronaut):
    session = CaptureSession(tmp_path / "caps", pipeline,
                             CaptureConfig(class_name="Happiness", interval=2.0, count=3, save_frame=True))
    assert session.config.class_name == "happy"
    frames = [_frame(astronaut, dx=(i % 5) * 10, dy=(i % 3) * 8) for i in range(30)]
    # not armed yet: the suggestion updates, nothing is saved
    assert session.offer(frames[0], 0.0) is None
    assert session.snapshot().label in pipeline.classifier.class_names
    session.start()
    saved = []
    for i, frame in enumerate(frames):  # 4 frames a second for 7.5 s
        got = session.offer(frame, 10.0 + i * 0.25)
        if got is not None:
            saved.append((i, got, frame))
    assert [s[1].at for s in saved] == [10.0, 12.0, 14.0]  # first at once, then every 2 s, then stop at 3
    status = session.snapshot()
    assert not status.armed and status.saved == 3 and status.per_class == {"happy": 3}
    assert "done" in status.message
    assert counts(tmp_path / "caps") == {"happy": 3}
    for _, cap, frame in saved:
        assert cap.path.parent == tmp_path / "caps" / "happy" and cap.path.suffix == ".jpg"
        img = read_image(cap.path)
        want = _expected_crop(pipeline, frame)
        assert img.shape == want.shape  # the largest face with the card's margin, not the whole frame
        assert np.abs(img.astype(float) - want.astype(float)).mean() < 6  # same pixels, up to JPEG
        assert cap.frame_path == tmp_path / "caps" / FRAMES_DIR / "happy" / cap.path.name
        assert read_image(cap.frame_path).shape == frame.shape
        assert cap.label in pipeline.classifier.class_names and 0 < cap.score <= 1


def test_no_face_no_capture_until_a_face_shows(tmp_path, pipeline, astronaut):
    session = CaptureSession(tmp_path, pipeline, CaptureConfig(class_name="sad", interval=1.0, count=1))
    session.start()
    blank = np.full((480, 640, 3), 128, np.uint8)
    assert all(session.offer(blank, t * 0.5) is None for t in range(6))
    status = session.snapshot()
    assert status.message == "waiting for a face" and status.label is None and status.face is None
    assert not (tmp_path / "sad").exists()
    got = session.offer(_frame(astronaut), 3.5)
    assert got is not None and got.path.parent.name == "sad"
    assert session.snapshot().face is not None


def test_auto_label_routes_around_the_threshold(tmp_path, pipeline, astronaut):
    frame = _frame(astronaut)
    probe = CaptureSession(tmp_path / "probe", pipeline, CaptureConfig(mode="auto"))
    probe.offer(frame, 0.0)
    label, score = probe.snapshot().label, probe.snapshot().score
    assert label is not None and 0.0 < score < 0.995
    for threshold, folder in ((score - 0.005, label), (score + 0.005, UNSORTED)):
        root = tmp_path / f"t{threshold:.4f}"
        session = CaptureSession(root, pipeline, CaptureConfig(mode="auto", threshold=threshold, count=1))
        session.start()
        got = session.offer(frame, 0.0)
        assert got is not None and got.class_name == folder, (threshold, score)
        assert got.path.parent == root / folder
        assert got.label == label and got.score == pytest.approx(score, abs=1e-5)
    # fixed mode ignores the model's opinion
    assert route(CaptureConfig(mode="fixed", class_name="wink"), label, 1.0) == "wink"
    assert route(CaptureConfig(mode="auto", threshold=0.5), "../etc", 0.9) == UNSORTED


@pytest.mark.parametrize("bad", ["../x", "/tmp/abs", "", "   ", "a/b"])
def test_bad_class_names_are_refused(tmp_path, pipeline, bad):
    with pytest.raises(ValueError):
        CaptureSession(tmp_path, pipeline, CaptureConfig(class_name=bad))
    session = CaptureSession(tmp_path, pipeline, CaptureConfig(class_name="ok"))
    with pytest.raises(ValueError):
        session.configure(class_name=bad)
    assert session.config.class_name == "ok"  # a refused change leaves the settings as they were
    assert list(tmp_path.iterdir()) == []


def test_start_needs_a_class_and_settings_are_checked(tmp_path, pipeline):
    session = CaptureSession(tmp_path, pipeline)
    with pytest.raises(ValueError, match="class name"):
        session.start()
    with pytest.raises(ValueError):
        session.configure(interval=-1)
    with pytest.raises(ValueError):
        session.configure(count=0)
    with pytest.raises(ValueError):
        session.configure(threshold=1.5)
    session.configure(mode="auto")
    session.start(count=2)
    assert session.snapshot().armed and session.snapshot().target == 2
    session.stop()
    assert not session.snapshot().armed


def test_concurrent_offers_save_once(tmp_path, pipeline, astronaut):
    """The video thread and a straggler offering at the same instant must not save twice."""
    session = CaptureSession(tmp_path, pipeline, CaptureConfig(class_name="happy", interval=5.0, count=5))
    session.start()
    frame = _frame(astronaut)
    barrier = threading.Barrier(4)
    results: list[object] = []

    def worker() -> None:
        barrier.wait()
        results.append(session.offer(frame, 1.0))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(r is not None for r in results) == 1
    assert counts(tmp_path) == {"happy": 1}


def test_a_model_failure_is_reported_not_raised(tmp_path, astronaut):
    class Broken:
        def analyze(self, rgb, classify="all"):
            raise RuntimeError("model exploded")

    session = CaptureSession(tmp_path, Broken(), CaptureConfig(class_name="x", count=1))
    session.start()
    assert session.offer(_frame(astronaut), 0.0) is None
    assert session.snapshot().error == "model exploded"


def test_process_annotates_the_frame(tmp_path, pipeline, astronaut):
    session = CaptureSession(tmp_path, pipeline, CaptureConfig(class_name="happy", count=1, interval=0))
    session.start()
    frame = _frame(astronaut)
    out = session.process(frame)
    assert out.shape == frame.shape and not np.array_equal(out, frame)  # box and counter drawn
    assert np.array_equal(frame, _frame(astronaut))  # the input frame is not drawn on
    assert counts(tmp_path) == {"happy": 1}


def test_changing_the_count_mid_run_never_reads_more_saved_than_wanted(tmp_path, pipeline, astronaut):
    """Lowering the count mid-run ends the run there; a finished run keeps its figures (never "12 / 8")."""
    session = CaptureSession(tmp_path / "caps", pipeline, CaptureConfig(class_name="happy", interval=1.0, count=5))
    session.start()
    for i in range(3):
        session.offer(_frame(astronaut), 10.0 + i)
    assert session.snapshot().saved == 3
    session.configure(count=2)
    status = session.snapshot()
    assert not status.armed and (status.saved, status.target) == (3, 3) and "done" in status.message
    session.configure(count=8)  # between runs: the last run's figures stay
    assert (session.snapshot().saved, session.snapshot().target) == (3, 3)
    session.start()
    assert (session.snapshot().saved, session.snapshot().target) == (0, 8)
    session.offer(_frame(astronaut), 20.0)
    session.configure(count=4)  # raised or lowered above what is saved: the run goes on to it
    status = session.snapshot()
    assert status.armed and (status.saved, status.target) == (1, 4)


def test_a_full_quota_stops_the_capture_with_its_reason(tmp_path, pipeline, astronaut):
    from fer_core.owners import CAPTURES, LOCAL, Space, check_quota
    from fer_core.settings import Settings

    root = tmp_path / "caps"
    space = Space(LOCAL, root, tmp_path / "models", tmp_path / "models")
    quota = Settings(capture_quota_mb=1)
    session = CaptureSession(root, pipeline, CaptureConfig(class_name="happy", interval=0.5, count=50),
                             room=lambda adding: check_quota(space, CAPTURES, adding, settings=quota))
    (root / "happy").mkdir(parents=True)
    (root / "happy" / "old.jpg").write_bytes(b"x" * 1_040_000)  # just under 1 MB: room for about one crop
    session.start()
    for i in range(8):
        session.offer(_frame(astronaut), 10.0 + i)
    status = session.snapshot()
    assert not status.armed and status.message == "stopped: no room left"
    assert status.error and "of your 1 MB" in status.error
    assert status.saved <= 1 and counts(root)["happy"] == 1 + status.saved
