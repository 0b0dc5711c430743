import cv2
import numpy as np
import pytest

from fer_core.errors import ModelError
from fer_core.inference.classifier import get_classifier
from fer_core.inference.detection import HaarDetector, YuNetDetector
from fer_core.inference.pipeline import Pipeline, analyze
from fer_core.model_folder import resolve_model_dir
from tests.conftest import YUNET, need_shared


def _two_faces(astronaut):
    """The astronaut twice: full size, and smaller (360 px) beside it."""

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


def _tight_crop(astronaut):
    """The astronaut's face cut to 80% of Haar's box (a dataset-style crop): too little around it for Haar."""
    x, y, w, h = HaarDetector().detect(astronaut)[0].as_tuple()
    cx, cy, half_w, half_h = x + w / 2, y + h / 2, w * 0.4, h * 0.48
    return np.ascontiguousarray(astronaut[int(cy - half_h):int(cy + half_h), int(cx - half_w):int(cx + half_w)])


def test_the_whole_photo_is_one_face_where_the_detector_finds_none(tiny_model_dir, astronaut):
    crop = _tight_crop(astronaut)
    pipe = Pipeline(get_classifier(tiny_model_dir), HaarDetector())
    assert pipe.analyze(crop) == []
    faces = pipe.analyze(crop, classify="whole")
    assert len(faces) == 1 and faces[0].is_largest
    assert faces[0].box.as_tuple() == (0, 0, crop.shape[1], crop.shape[0])
    names = pipe.classifier.class_names
    expected = pipe.classifier.predict([crop])[0]  # the crop as given, with the card's views
    assert np.allclose([faces[0].probabilities[c] for c in names], expected, atol=1e-6)
    assert faces[0].label == names[int(np.argmax(expected))] and faces[0].score == pytest.approx(expected.max())
    gray = pipe.analyze(crop.mean(axis=2).astype(np.uint8), classify="whole")
    assert len(gray) == 1 and gray[0].label in names
    with pytest.raises(ValueError, match="whole"):
        pipe.analyze(crop, classify="everything")


def test_a_tilted_head_is_cut_nearer_to_upright(tiny_model_dir, astronaut):
    """Through YuNet, a head turned 25 degrees is cut turned back (to the 8 degrees of lean the
    training faces have), so the crop resembles the upright head's crop more than the plain cut does."""
    need_shared(YUNET)

    def crop(image, level_beyond):
        detector = YuNetDetector(YUNET, max_side=1024, level_beyond=level_beyond)  # a face large enough for eyes
        pipe = Pipeline(get_classifier(tiny_model_dir), detector)
        face = pipe.detect(image)[0]
        gray = cv2.cvtColor(pipe.crop(image, face), cv2.COLOR_RGB2GRAY)
        return cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA).astype(np.float64).ravel()

    def likeness(a, b):
        return float(np.corrcoef(a, b)[0, 1])

    big = cv2.resize(astronaut, (1024, 1024))
    upright = crop(big, None)
    m = cv2.getRotationMatrix2D((450, 240), -25.0, 1.0)  # 25 degrees clockwise about the face
    tilted = cv2.warpAffine(big, m, (1024, 1024), borderMode=cv2.BORDER_REPLICATE)
    levelled, plain = crop(tilted, 8.0), crop(tilted, None)
    assert likeness(levelled, upright) > likeness(plain, upright) + 0.1
