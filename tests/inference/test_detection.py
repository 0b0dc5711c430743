import numpy as np
import pytest

from fer_core.inference.detection import LEVEL_EYES_BEYOND, Box, HaarDetector, YuNetDetector, largest, make_detector
from tests.conftest import YUNET, need_shared

# the astronaut's face lies around x 170-280, y 60-180 in the 512x512 photo
FACE_CENTER = (225, 120)


def _hits_face(box: Box) -> bool:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    return abs(cx - FACE_CENTER[0]) < 40 and abs(cy - FACE_CENTER[1]) < 40


def test_haar_finds_the_astronaut(astronaut):
    boxes = HaarDetector(max_side=320).detect(astronaut)
    assert any(_hits_face(b) for b in boxes)


def test_haar_maps_boxes_back_from_the_downscaled_copy(astronaut):
    import cv2

    big = cv2.resize(astronaut, (1024, 1024))
    boxes = HaarDetector(max_side=320).detect(big)
    assert any(abs(b.x + b.w / 2 - 2 * FACE_CENTER[0]) < 80 and abs(b.y + b.h / 2 - 2 * FACE_CENTER[1]) < 80
               for b in boxes)
    assert all(b.x + b.w <= 1024 and b.y + b.h <= 1024 for b in boxes)


def test_haar_on_blank_frame_finds_nothing():
    assert HaarDetector().detect(np.full((240, 320, 3), 128, np.uint8)) == []


def test_haar_settings_validated():
    with pytest.raises(ValueError):
        HaarDetector(scale_factor=1.0)


def test_yunet_finds_the_astronaut(astronaut):
    need_shared(YUNET)
    boxes = YuNetDetector(YUNET).detect(astronaut)
    assert len(boxes) >= 1 and _hits_face(boxes[largest(boxes)])
    assert 0.5 < boxes[0].score <= 1.0


def test_auto_falls_back_to_haar_when_yunet_missing(monkeypatch, tmp_path, caplog):
    monkeypatch.setenv("FER_YUNET_PATH", str(tmp_path / "absent.onnx"))
    det = make_detector("auto")
    assert det.name == "haar"
    assert "using the Haar cascade" in caplog.text


def test_auto_prefers_yunet_when_configured(monkeypatch):
    need_shared(YUNET)
    monkeypatch.setenv("FER_YUNET_PATH", str(YUNET))
    assert make_detector("auto").name == "yunet"
    assert make_detector("haar").name == "haar"


def test_unknown_detector():
    with pytest.raises(ValueError):
        make_detector("magic")


def test_largest_choice():
    boxes = [Box(0, 0, 10, 10), Box(5, 5, 30, 20), Box(50, 50, 20, 30), Box(1, 1, 5, 5)]
    assert largest(boxes) == 1  # 600 px, ties go to the first
    assert largest([]) is None


def _turned(image: np.ndarray, degrees: float, centre: tuple[float, float]) -> np.ndarray:
    """``image`` turned ``degrees`` clockwise on screen about ``centre``."""
    import cv2

    m = cv2.getRotationMatrix2D(centre, -degrees, 1.0)
    return cv2.warpAffine(image, m, image.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_yunet_gives_the_eyes_and_their_roll_on_a_large_face(astronaut):
    import cv2

    need_shared(YUNET)
    big = cv2.resize(astronaut, (1024, 1024))  # the face ~180 px wide: YuNet's eyes follow the head
    det = YuNetDetector(YUNET, max_side=1024)
    upright = det.detect(big)[0]
    assert upright.eyes is not None
    rx, ry, lx, ly = upright.eyes
    assert upright.x < rx < lx < upright.x + upright.w  # the person's right eye on the image's left
    assert upright.y < ry < upright.y + upright.h / 2 and upright.y < ly < upright.y + upright.h / 2
    centre = (2 * FACE_CENTER[0], 2 * FACE_CENTER[1])
    for degrees in (20.0, -20.0):
        tilted = det.detect(_turned(big, degrees, centre))[0]
        assert tilted.roll == pytest.approx(upright.roll + degrees, abs=6.0)


def test_yunet_gives_no_eyes_on_a_face_too_small_for_them(astronaut):
    need_shared(YUNET)
    box = YuNetDetector(YUNET, max_side=320).detect(astronaut)[0]  # ~55 px wide in the detected copy
    assert box.eyes is None and box.roll is None


def test_make_detector_levels_tilted_yunet_faces(monkeypatch):
    need_shared(YUNET)
    monkeypatch.setenv("FER_YUNET_PATH", str(YUNET))
    assert make_detector("yunet").level_beyond == LEVEL_EYES_BEYOND == 8.0
    assert YuNetDetector(YUNET, level_beyond=None).level_beyond is None


def test_make_detector_takes_haar_overrides_over_the_defaults():
    default = make_detector("haar")
    assert (default.scale_factor, default.min_neighbors, default.min_size) == (1.1, 5, 30)  # fer's own values
    tuned = make_detector("haar", min_size=10, scale_factor=1.05)
    assert (tuned.scale_factor, tuned.min_neighbors, tuned.min_size) == (1.05, 5, 10)
