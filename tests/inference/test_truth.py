"""Truth anchors: the shipped models against labels people gave, not against the code's own output.

* Each shipped model scores a fixed sample of FER2013 PrivateTest faces (``../shared``) near the figure its
  model card states; a floor a few points under it. A model fed the wrong pixels (a photographic negative,
  swapped colours, a wrong normalisation) falls far below.
* Photos anyone can check by eye (``tests/truth.py``: smiling faces and faces at rest) get the expression
  people see, through each path a user takes: the engine's pipeline, the live page's frame callback and
  processor, and a video file. (The upload page: ``tests/app/test_truth_upload.py``.)
"""

from __future__ import annotations

import time
from pathlib import Path

import av
import numpy as np
import pytest

from fer_core.inference.card import load_card
from fer_core.inference.classifier import Classifier
from fer_core.inference.live import LiveProcessor
from fer_core.inference.pipeline import get_pipeline
from fer_core.inference.stream import StreamOptions
from fer_core.inference.video import analyze_video
from tests.conftest import FER_NPZ, ROOT, need_shared
from tests.corpus.make_bad_videos import write_video
from tests.truth import PHOTOS, Photo, in_frame, private_test_sample
from webui.live import make_frame_callback

FLOOR_BELOW_CARD = 0.06  # points under the card's PrivateTest accuracy that a fixed sample may score
# (model folder, labels its card's PrivateTest figure uses, faces in the sample: fer2013 runs 18 network passes
# a face, the default 4)
SHIPPED = [("default", "ferplus", 400), ("fer2013", "fer2013", 200)]


@pytest.mark.parametrize("model,labels,size", SHIPPED, ids=[m for m, _, _ in SHIPPED])
def test_shipped_model_scores_near_its_card_on_private_test(model: str, labels: str, size: int) -> None:
    need_shared(FER_NPZ)
    folder = ROOT / "models" / model
    card = load_card(folder)
    stated = card.metrics["PrivateTest"]
    assert stated["labels"] == labels and stated["data"] == "fer2013.npz", stated
    faces, truth = private_test_sample(FER_NPZ, labels, size)
    assert len(truth) == size and set(truth) <= set(card.class_names)
    clf = Classifier(folder)
    probs = np.concatenate([clf.predict(list(faces[i:i + 100])) for i in range(0, size, 100)])
    predicted = [clf.class_names[i] for i in probs.argmax(axis=1)]
    accuracy = float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)]))
    floor = stated["accuracy"] - FLOOR_BELOW_CARD
    assert accuracy >= floor, (f"{model}: {accuracy:.3f} on {size} PrivateTest faces ({labels} labels), "
                               f"under the floor {floor:.3f} (the card says {stated['accuracy']:.3f})")


# ---------------------------------------------------------------- photos anyone can check
@pytest.fixture(scope="module")
def pipe(default_model_dir: Path):
    return get_pipeline(default_model_dir)


def test_the_photos_are_what_the_tests_say() -> None:
    """Both expressions are present, and each photo is a real picture (not blank, not a copy of another)."""
    assert {p.expression for p in PHOTOS} == {"happy", "neutral"}
    faces = [p.face() for p in PHOTOS]
    assert all(f.std() > 20 for f in faces)
    assert len({f.tobytes() for f in faces}) == len(PHOTOS)


@pytest.mark.parametrize("photo", PHOTOS, ids=[p.name for p in PHOTOS])
def test_engine_labels_each_photo_as_people_do(photo: Photo, pipe) -> None:
    faces = pipe.analyze(photo.photo())
    assert len(faces) == 1, f"{photo.name}: {len(faces)} faces found"
    face = faces[0]
    assert face.label == photo.expression, (photo.name, face.label, face.probabilities)


@pytest.mark.parametrize("photo", PHOTOS, ids=[p.name for p in PHOTOS])
def test_live_callback_labels_each_photo_as_people_do(photo: Photo, pipe) -> None:
    """A webcam-sized frame of the photo through the live page's frame callback and processor."""
    proc = LiveProcessor(pipe, StreamOptions())
    try:
        callback = make_frame_callback(proc)
        rgb = in_frame(photo.face(), (640, 480))
        end = time.monotonic() + 120  # a hang guard only: the first frame may trace the model's graph
        while proc.snapshot().classified < 1:
            assert time.monotonic() < end, f"{photo.name}: never classified: {proc.snapshot()}"
            out = callback(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
            proc.wait_idle(10)
        assert out.to_ndarray(format="rgb24").shape == rgb.shape
        stats = proc.snapshot()
        assert stats.faces == 1 and stats.label == photo.expression, (photo.name, stats.label, stats.probabilities)
    finally:
        proc.close()


def test_video_labels_each_photo_as_people_do(pipe, tmp_path: Path) -> None:
    """One video: each photo for a second, a second of empty wall between; every row with a face says
    that photo's expression (the analysis runs as the video page runs it)."""
    fps, shown, gap = 10, 10, 8
    wall = np.full((240, 320, 3), (70, 80, 90), np.uint8)
    frames: list[np.ndarray] = []
    spans: list[tuple[Photo, range]] = []
    for k, photo in enumerate(PHOTOS):
        if k:
            frames += [wall] * gap
        spans.append((photo, range(len(frames), len(frames) + shown)))
        frames += [in_frame(photo.face(), (320, 240))] * shown
    path = write_video(tmp_path / "photos.mp4", frames, fps=fps)
    result = analyze_video(path, pipe, options=StreamOptions())
    rows = result.rows
    assert [r.frame for r in rows] == list(range(len(frames)))
    for photo, span in spans:
        labels = [rows[i].label for i in span]
        assert labels == [photo.expression] * shown, (photo.name, labels)
    in_view = {i for _, span in spans for i in span}
    assert all(r.label is None for r in rows if r.frame not in in_view), "a label on an empty wall"
