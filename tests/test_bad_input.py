"""Every file of the hostile corpus (tests/corpus/make_bad_corpus.py) through every way in:
``imageio`` (bytes and path), the pipeline, ``python -m fer_core.predict``, and the batch path.

A bad file gives a one-line ``ImageError``; a good one decodes to the right shape and is analysed;
nothing raises anything else, and nothing prints a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fer_core.data.imageio import decode_image, display_name, read_image
from fer_core.errors import ImageError
from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import make_detector, yunet_available
from fer_core.inference.pipeline import Pipeline
from tests.conftest import ROOT, YUNET, need_shared
from tests.corpus.make_bad_corpus import Case, corpus_cases, make_corpus

CASES: list[Case] = [c for c, _ in corpus_cases()]
IDS = [f"{i:02d}-{display_name(c.name, 40)}" for i, c in enumerate(CASES)]
FILE_CASES = [c for c in CASES if not c.is_dir]
FILE_IDS = [i for i, c in zip(IDS, CASES) if not c.is_dir]
OK = [c for c in CASES if c.expect == "ok"]
BAD = [c for c in CASES if c.expect == "error"]


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad_corpus")
    make_corpus(d)
    return d


def assert_one_line(message: str, case: Case) -> None:
    assert message, "empty error message"
    assert "\n" not in message and "\r" not in message, repr(message)
    assert message.isprintable(), repr(message)
    assert len(message) <= 500
    assert case.message in message.lower(), f"{case.message!r} not in {message!r}"
    assert display_name(case.name) in message, f"the file name is not in {message!r}"


def test_corpus_is_big_and_mixed():
    assert len(CASES) >= 30
    assert len(OK) >= 10 and len(BAD) >= 10
    assert all(c.expect in ("ok", "error") for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_read_image(case: Case, corpus_dir: Path):
    path = case.path(corpus_dir)
    if case.expect == "ok":
        image = read_image(path)
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
        assert image.shape[:2] == case.shape
        assert image.flags["C_CONTIGUOUS"]
    else:
        with pytest.raises(ImageError) as info:
            read_image(path)
        assert_one_line(str(info.value), case)


@pytest.mark.parametrize("case", FILE_CASES, ids=FILE_IDS)
def test_decode_bytes(case: Case):
    payload = dict((c.name, p) for c, p in corpus_cases())[case.name] or b""
    if case.expect == "ok":
        assert decode_image(payload, case.name).shape[:2] == case.shape
    else:
        with pytest.raises(ImageError) as info:
            decode_image(payload, case.name)
        assert_one_line(str(info.value), case)


def test_exif_orientation_6_is_rotated(corpus_dir: Path):
    """Stored 60 wide x 40 high, red top-left quadrant; shown rotated 90 degrees clockwise."""
    image = read_image(corpus_dir / "exif_orientation6.jpg").astype(int)
    assert image.shape[:2] == (60, 40)
    red = (image[..., 0] > 150) & (image[..., 1] < 100)
    assert red[5:25, 25:35].mean() > 0.9  # top-right now
    assert red[5:25, 2:15].mean() < 0.1 and red[40:, :].mean() < 0.1


def test_exif_orientation_3_is_turned(corpus_dir: Path):
    image = read_image(corpus_dir / "exif_orientation3.jpg").astype(int)
    red = (image[..., 0] > 150) & (image[..., 1] < 100)
    assert red[25:, 35:].mean() > 0.9 and red[:15, :25].mean() < 0.1  # bottom-right now


@pytest.fixture(scope="module", params=["haar", "yunet"])
def pipeline(request, tiny_model_dir):
    if request.param == "yunet":
        need_shared(YUNET)
        assert yunet_available()
    return Pipeline(get_classifier(tiny_model_dir), make_detector(request.param))


@pytest.mark.parametrize("case", OK, ids=[i for i, c in zip(IDS, CASES) if c.expect == "ok"])
def test_pipeline_analyzes_every_good_file(case: Case, corpus_dir: Path, pipeline: Pipeline):
    image = read_image(case.path(corpus_dir))
    faces = pipeline.analyze(image)
    assert len(faces) >= case.faces
    for face in faces:
        x, y, w, h = face.box.as_tuple()
        assert 0 <= x and 0 <= y and x + w <= image.shape[1] and y + h <= image.shape[0]
        assert face.label in pipeline.classifier.class_names
        assert abs(sum(face.probabilities.values()) - 1.0) < 1e-3
    if case.faces:  # the astronaut: some face covers her real face (around x 175-270, y 60-175)
        assert any(f.box.x < 230 < f.box.x + f.box.w and f.box.y < 110 < f.box.y + f.box.h for f in faces)


def test_same_face_in_every_format(corpus_dir: Path, tiny_model_dir):
    need_shared(YUNET)
    pipe = Pipeline(get_classifier(tiny_model_dir), make_detector("yunet"))
    boxes = [pipe.analyze(read_image(corpus_dir / n))[0].box for n in
             ("astronaut.jpg", "astronaut.png", "astronaut.webp", "astronaut_progressive.jpg")]
    for b in boxes[1:]:
        assert abs(b.x - boxes[0].x) <= 4 and abs(b.y - boxes[0].y) <= 4 and abs(b.w - boxes[0].w) <= 6


def test_predict_cli_over_the_corpus(corpus_dir: Path, tiny_model_dir: Path):
    """Bad files: one ``error:`` line each on stderr; good files: one JSON line each; exit 1."""
    names = sorted(c.name for c in CASES)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "fer_core.predict", "--model", str(tiny_model_dir), "--detector", "haar", *names],
        cwd=corpus_dir, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert sorted(r["file"] for r in records) == sorted(c.name for c in OK)
    by_name = {r["file"]: r for r in records}
    for c in OK:
        assert (by_name[c.name]["height"], by_name[c.name]["width"]) == c.shape
    assert len(by_name["astronaut.jpg"]["faces"]) >= 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == len(BAD), "\n".join(errors)
    for c in BAD:
        assert sum(display_name(c.name) + ":" in e for e in errors) >= 1, c.name


def test_predict_cli_all_good_exits_zero(corpus_dir: Path, tiny_model_dir: Path):
    proc = subprocess.run(
        [sys.executable, "-m", "fer_core.predict", "--model", str(tiny_model_dir), "--detector", "haar",
         "one_pixel.png", "strip_2x10000.png"],
        cwd=corpus_dir, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(proc.stdout.splitlines()) == 2


def test_predict_cli_broken_model_exits_two(corpus_dir: Path, tmp_path: Path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.json").write_text("{not json", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "fer_core.predict", "--model", str(tmp_path / "m"), "astronaut.jpg"],
        cwd=corpus_dir, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "not valid JSON" in errors[0]
    assert proc.stdout == ""


# ---------------------------------------------------------------- the upload (batch) path
@pytest.fixture(scope="module")
def haar_pipeline(tiny_model_dir):
    return Pipeline(get_classifier(tiny_model_dir), make_detector("haar"))


@pytest.mark.parametrize("case", FILE_CASES, ids=FILE_IDS)
def test_batch_upload(case: Case, haar_pipeline: Pipeline):
    from fer_core.inference.batch import KEPT_MAX_SIDE, analyze_upload

    payload = dict((c.name, p) for c, p in corpus_cases())[case.name] or b""
    result = analyze_upload(case.name, payload, haar_pipeline)
    if case.expect == "ok":
        assert result.ok, result.error
        assert (result.height, result.width) == case.shape
        assert result.annotated is not None
        kept = result.annotated.shape[:2]  # what the page keeps: no larger than KEPT_MAX_SIDE, same orientation
        assert max(kept) == min(max(case.shape), KEPT_MAX_SIDE)
        assert (kept[0] >= kept[1]) == (case.shape[0] >= case.shape[1])
        assert len(result.faces) >= case.faces
    else:
        assert not result.ok and result.annotated is None
        assert_one_line(result.error, case)


def test_batch_keeps_every_file_in_order(haar_pipeline: Pipeline):
    """A whole corpus in one batch: one result per file, in order, none lost; the CSV has them all."""
    from fer_core.inference.batch import analyze_uploads, results_csv, results_table

    files = [(c.name, p or b"") for c, p in corpus_cases() if not c.is_dir]
    results = analyze_uploads(files, haar_pipeline)
    assert [r.name for r in results] == [n for n, _ in files]
    assert [r.ok for r in results] == [c.expect == "ok" for c, _ in corpus_cases() if not c.is_dir]
    rows = results_table(results, haar_pipeline.classifier.class_names)
    assert {row["file"] for row in rows} == {n for n, _ in files}
    assert len(results_csv(results, haar_pipeline.classifier.class_names)) > 0
