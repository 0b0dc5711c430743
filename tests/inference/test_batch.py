"""fer_core.inference.batch: uploads analysed with a real model; bad files give one-line errors, the rest go on."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_core.inference.batch import analyze_upload, analyze_uploads, results_csv, results_table


@pytest.fixture(scope="module")
def pipeline(tiny_model_dir: Path):
    from fer_core.inference.classifier import get_classifier
    from fer_core.inference.detection import make_detector
    from fer_core.inference.pipeline import Pipeline

    return Pipeline(get_classifier(tiny_model_dir), make_detector("haar"))


def _jpeg(rgb: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", **kw)
    return buf.getvalue()


def test_face_photo_gets_label_and_annotation(pipeline, astronaut: np.ndarray) -> None:
    r = analyze_upload("astronaut.jpg", _jpeg(astronaut), pipeline)
    assert r.ok, r.error
    assert (r.width, r.height) == (512, 512)
    assert r.faces and r.largest is not None
    assert r.label in pipeline.classifier.class_names
    assert r.annotated.shape == astronaut.shape and not np.array_equal(r.annotated, astronaut)
    assert r.caption().startswith("astronaut.jpg: ") and r.label in r.caption()


def test_exif_rotation_is_honoured(pipeline, astronaut: np.ndarray) -> None:
    wide = np.ascontiguousarray(astronaut[:, :400])  # 400 wide, 512 high
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    r = analyze_upload("phone.jpg", _jpeg(wide, exif=exif), pipeline)
    assert r.ok and (r.width, r.height) == (512, 400)


def test_bad_files_become_errors(pipeline) -> None:
    bad = analyze_upload("broken.jpg", b"this is not an image", pipeline)
    assert not bad.ok and bad.annotated is None
    assert bad.error.startswith("broken.jpg: ") and "\n" not in bad.error
    empty = analyze_upload("empty.png", b"", pipeline)
    assert "empty" in empty.error
    big = analyze_upload("big.png", b"x" * 2000, pipeline, max_bytes=1000)
    assert "larger than the limit" in big.error


def test_no_face(pipeline) -> None:
    r = analyze_upload("wall.png", _png(np.full((120, 160, 3), 200, np.uint8)), pipeline)
    assert r.ok and r.faces == [] and r.label is None
    assert r.caption() == "wall.png: no face found"


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def test_batch_table_and_csv(pipeline, astronaut: np.ndarray) -> None:
    seen = []
    results = analyze_uploads([("a.jpg", _jpeg(astronaut)), ("bad.png", b"junk"),
                               ("wall.png", _png(np.zeros((64, 64, 3), np.uint8)))],
                              pipeline, progress=lambda i, n, r: seen.append((i, n, r.name)))
    assert seen == [(1, 3, "a.jpg"), (2, 3, "bad.png"), (3, 3, "wall.png")]
    names = pipeline.classifier.class_names
    rows = results_table(results, names)
    face_rows = [r for r in rows if r["file"] == "a.jpg"]
    assert face_rows and face_rows[0]["largest"] is True and face_rows[0]["label"] in names
    assert abs(sum(face_rows[0][f"p_{c}"] for c in names) - 1.0) < 0.01
    bad = next(r for r in rows if r["file"] == "bad.png")
    assert bad["label"] is None and bad["error"].startswith("bad.png: ")
    assert next(r for r in rows if r["file"] == "wall.png")["error"] == "no face found"

    parsed = list(csv.DictReader(io.StringIO(results_csv(results, names).decode("utf-8"))))
    assert [r["file"] for r in parsed][:1] == ["a.jpg"] and len(parsed) == len(rows)
    assert parsed[0]["label"] in names and parsed[-1]["error"] == "no face found"
    assert f"p_{names[0]}" in parsed[0]


def test_pipeline_failure_is_contained(astronaut: np.ndarray, pipeline) -> None:
    class Exploding:
        def analyze(self, image, classify="all"):
            raise RuntimeError("boom")

    r = analyze_upload("a.jpg", _jpeg(astronaut), Exploding())
    assert not r.ok and "RuntimeError: boom" in r.error


def test_csv_neutralises_formula_file_names(pipeline) -> None:
    results = analyze_uploads([("=HYPERLINK(\"x\").png", b"junk"), ("@sum.jpg", b"junk"), ("plain.jpg", b"junk")],
                              pipeline)
    parsed = list(csv.DictReader(io.StringIO(results_csv(results).decode("utf-8"))))
    assert [r["file"] for r in parsed] == ["'=HYPERLINK(\"x\").png", "'@sum.jpg", "plain.jpg"]


def test_a_face_crop_analysed_whole(pipeline, astronaut) -> None:
    from tests.inference.test_pipeline import _tight_crop

    crop = _tight_crop(astronaut)
    found = analyze_upload("crop.png", _png(crop), pipeline)
    assert found.ok and found.faces == [] and found.caption() == "crop.png: no face found"
    whole = analyze_upload("crop.png", _png(crop), pipeline, classify="whole")
    assert whole.ok and len(whole.faces) == 1 and whole.label in pipeline.classifier.class_names
    assert whole.annotated.shape[0] > crop.shape[0] and whole.annotated.shape[1] == crop.shape[1]  # the tag's strip
    assert results_table([whole])[0]["label"] == whole.label


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    return buf.getvalue()


def test_results_are_kept_downscaled_and_a_batch_is_bounded_in_total(pipeline, astronaut: np.ndarray,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Each file may be under the per-image limit while the batch is not: the files past the batch's total get
    a one-line refusal, the others their result; what is kept for the page is no larger than KEPT_MAX_SIDE."""
    from fer_core.inference.batch import KEPT_MAX_SIDE

    big = np.asarray(Image.fromarray(astronaut).resize((2400, 2400)))
    from fer_core.data import imageio

    monkeypatch.setattr(imageio, "MAX_PIXELS", 2400 * 2400)  # the batch: twice that
    files = [(f"big{i}.png", _png(big)) for i in range(3)]
    results = analyze_uploads(files, pipeline)
    assert [r.ok for r in results] == [True, True, False]
    assert results[2].error.startswith("big2.png: skipped, this batch") and "\n" not in results[2].error
    assert max(results[0].annotated.shape[:2]) == KEPT_MAX_SIDE
    assert (results[0].width, results[0].height) == (2400, 2400)


def test_the_servers_memory_budget_refuses_in_one_line(pipeline, astronaut: np.ndarray,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from fer_core.memory import BYTES_PER_PIXEL, in_use_bytes

    monkeypatch.setenv("FER_MEMORY_BUDGET_MB", "1")
    side = int((2**20 / BYTES_PER_PIXEL) ** 0.5) + 10
    result = analyze_upload("wide.jpg", _jpeg(np.asarray(Image.fromarray(astronaut).resize((side, side)))), pipeline)
    assert not result.ok and "more memory than this server allows" in result.error and "\n" not in result.error
    assert in_use_bytes() == 0  # every reservation given back
