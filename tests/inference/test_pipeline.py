import numpy as np
import pytest

from fer_core.errors import ModelError
from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import HaarDetector
from fer_core.inference.pipeline import Pipeline, analyze, resolve_model_dir


def _two_faces(astronaut):
    """The astronaut twice: full size, and smaller (360 px) beside it."""
    import cv2

    canvas = np.full((512, 900, 3), 90, np.uint8)
    canvas[:, :512] = astronaut
    canvas[60:420, 530:890] = cv2.resize(astronaut, (360, 360))
    return canvas


def test_analyze_labels_the_largest_face(tiny_model_dir, astronaut):
    pipe = Pipeline(get_classifier(tiny_model_dir), HaarDetector())
    faces = pipe.analyze(_two_faces(astronaut))
    assert len(faces) >= 2
    assert faces[0].is_largest and sum(f.is_largest for f in faces) == 1
    assert faces[0].box.area == max(f.box.area for f in faces)
    assert all(f.label in pipe.classifier.class_names for f in faces)
    assert abs(sum(faces[0].probabilities.values()) - 1.0) < 1e-3
    data = faces[0].to_json()
    assert set(data) >= {"box", "label", "score", "probabilities", "is_largest"}


def test_classify_only_largest(tiny_model_dir, astronaut):
    pipe = Pipeline(get_classifier(tiny_model_dir), HaarDetector())
    faces = pipe.analyze(_two_faces(astronaut), classify="largest")
    assert faces[0].label is not None
    assert all(f.label is None for f in faces[1:])


def test_gray_input_and_no_face(tiny_model_dir, astronaut):
    import cv2

    pipe = Pipeline(get_classifier(tiny_model_dir), HaarDetector())
    gray = cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY)
    assert pipe.analyze(gray)[0].label is not None
    assert pipe.analyze(np.full((200, 200, 3), 30, np.uint8)) == []


def test_module_level_analyze_with_model_path(tiny_model_dir, astronaut):
    faces = analyze(astronaut, model=tiny_model_dir, detector="haar")
    assert faces and faces[0].is_largest


def test_unknown_model_name(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    with pytest.raises(ModelError, match="not found"):
        resolve_model_dir("nope")
