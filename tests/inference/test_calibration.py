"""Personal calibration: fit, apply, shrinkage, the file, refusal on another model, and the pipeline hook."""

import json
import shutil

import numpy as np
import pytest

from fer_core.inference.calibration import (
    CalibratedClassifier,
    Calibration,
    CalibrationError,
    fit_calibration,
    load_calibration,
    model_fingerprint,
)

NAMES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt"]


def _probs(**weights: float) -> np.ndarray:
    """One probability row: the named classes get their weight, the rest share 0.02."""
    row = np.full(len(NAMES), 0.02)
    for name, w in weights.items():
        row[NAMES.index(name)] = w
    return row / row.sum()


def _jitter(row: np.ndarray, n: int, scale: float, seed: int) -> np.ndarray:
    """``n`` faces like ``row``: its log-probabilities moved by noise of ``scale``."""
    rng = np.random.default_rng(seed)
    logits = np.log(row)[None, :] + rng.normal(0, scale, (n, len(row)))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# A person whose angry face the model reads as neutral (with a little anger), and whose neutral face as neutral.
ANGRY_AS_NEUTRAL = _probs(neutral=0.6, angry=0.25, sad=0.05)
PLAIN_NEUTRAL = _probs(neutral=0.85, angry=0.02, sad=0.06)
HAPPY = _probs(happy=0.9)


def _fit(probs: np.ndarray, labels: list[str], fingerprint: str = "sha256:x") -> Calibration:
    return fit_calibration(probs, labels, NAMES, model_name="m", model_fingerprint=fingerprint)


def _top(probs: np.ndarray) -> list[str]:
    return [NAMES[i] for i in np.argmax(probs, axis=1)]


def test_fit_then_apply_gives_the_persons_label_to_faces_like_their_calibration():
    cal = _fit(np.stack([ANGRY_AS_NEUTRAL, PLAIN_NEUTRAL, HAPPY]), ["angry", "neutral", "happy"])
    later_angry = _jitter(ANGRY_AS_NEUTRAL, 20, 0.05, seed=1)
    later_neutral = _jitter(PLAIN_NEUTRAL, 20, 0.05, seed=2)
    assert _top(later_angry) == ["neutral"] * 20  # the model alone misreads this person's anger
    assert _top(cal.apply(later_angry)) == ["angry"] * 20
    assert _top(cal.apply(later_neutral)) == ["neutral"] * 20
    assert _top(cal.apply(_jitter(HAPPY, 5, 0.05, seed=3))) == ["happy"] * 5
    out = cal.apply(later_angry)
    assert out.shape == later_angry.shape and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


def test_a_face_unlike_every_calibration_face_stays_as_the_model_says():
    cal = _fit(np.stack([ANGRY_AS_NEUTRAL, PLAIN_NEUTRAL]), ["angry", "neutral"])
    far = _probs(neutral=0.9, angry=0.0002)  # a very plain neutral face, far from both calibration faces
    assert _top(cal.apply(far[None])) == ["neutral"]
    assert np.allclose(cal.apply(far[None]), far[None], atol=1e-3)


def test_calibration_that_disagrees_with_itself_shrinks_towards_the_model():
    """Two faces of different classes that the model reads almost alike only speak for faces very close to them."""
    between = _probs(neutral=0.6, angry=0.2, sad=0.05)
    apart = _fit(np.stack([ANGRY_AS_NEUTRAL, _probs(neutral=0.95, angry=0.005)]), ["angry", "neutral"])
    alike = _fit(np.stack([ANGRY_AS_NEUTRAL, _probs(neutral=0.62, angry=0.22, sad=0.05)]), ["angry", "neutral"])
    moved_apart = apart.apply(between[None])[0, 0] - between[0]
    moved_alike = alike.apply(between[None])[0, 0] - between[0]
    assert moved_apart > 0.3  # the clear calibration pulls a nearby face to angry
    assert abs(moved_alike) < moved_apart / 3  # the self-contradicting one barely moves it
    assert sum(alike.radii, []) < sum(apart.radii, [])


def test_an_uncalibrated_class_keeps_the_models_probability():
    cal = _fit(np.stack([ANGRY_AS_NEUTRAL, PLAIN_NEUTRAL]), ["angry", "neutral"])
    faces = np.concatenate([_jitter(ANGRY_AS_NEUTRAL, 5, 0.1, seed=4), _jitter(HAPPY, 5, 0.1, seed=5)])
    out = cal.apply(faces)
    others = [NAMES.index(c) for c in NAMES if c not in ("angry", "neutral")]
    assert np.allclose(out[:, others], faces[:, others], atol=1e-6)
    both = [NAMES.index("angry"), NAMES.index("neutral")]
    assert np.allclose(out[:, both].sum(axis=1), faces[:, both].sum(axis=1), atol=1e-6)
    assert _top(out[5:]) == ["happy"] * 5  # a happy face stays happy: nobody calibrated happy
    assert cal.calibrated == ["angry", "neutral"] and cal.describe() == "calibrated for you (2 expressions)"


def test_fit_refuses_one_class_and_unknown_classes():
    with pytest.raises(CalibrationError, match="at least two expressions"):
        _fit(np.stack([HAPPY, HAPPY]), ["happy", "happy"])
    with pytest.raises(CalibrationError, match="not classes of this model: scream"):
        _fit(np.stack([HAPPY, PLAIN_NEUTRAL]), ["scream", "neutral"])


def test_the_file_round_trips_holds_no_image_and_refuses_damage(tmp_path):
    faces = np.concatenate([_jitter(ANGRY_AS_NEUTRAL, 30, 0.1, seed=6), _jitter(PLAIN_NEUTRAL, 30, 0.1, seed=7)])
    cal = _fit(faces, ["angry"] * 30 + ["neutral"] * 30)
    path = cal.save(tmp_path / "me.json")
    again = load_calibration(path)
    later = _jitter(ANGRY_AS_NEUTRAL, 10, 0.2, seed=8)
    assert np.allclose(again.apply(later), cal.apply(later), atol=1e-4)
    data = json.loads(path.read_text())
    assert data["format"] == "fer-calibration" and data["version"] == 1
    assert set(data["classes"]) == {"angry", "neutral"} and data["classes"]["angry"]["faces"] == 30
    assert all(len(pt) == 2 for pt in data["classes"]["angry"]["points"])  # a point per face: two numbers
    assert path.stat().st_size < 20_000
    newer = dict(data, version=2)
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    with pytest.raises(CalibrationError, match="reads version 1"):
        load_calibration(tmp_path / "newer.json")
    (tmp_path / "broken.json").write_text('{"format": "fer-calibration", "version": 1, "classes": ')
    with pytest.raises(CalibrationError, match="broken.json: not a readable calibration"):
        load_calibration(tmp_path / "broken.json")
    data["classes"]["angry"]["points"][0] = [1.0]
    (tmp_path / "short.json").write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="do not fit its classes"):
        load_calibration(tmp_path / "short.json")
    with pytest.raises(CalibrationError, match="no such calibration file"):
        load_calibration(tmp_path / "absent.json")


def test_a_long_recording_is_thinned_to_an_even_spread():
    faces = np.concatenate([_jitter(ANGRY_AS_NEUTRAL, 500, 0.1, seed=9), _jitter(PLAIN_NEUTRAL, 3, 0.1, seed=10)])
    cal = _fit(faces, ["angry"] * 500 + ["neutral"] * 3)
    assert cal.faces == [500, 3] and len(cal.points[0]) == 64 and len(cal.points[1]) == 3


# ----------------------------------------------------------------------------- with a real model


def test_refused_on_another_model_with_one_line(default_model_dir, tmp_path):
    from fer_core.inference.classifier import get_classifier
    from fer_core.inference.pipeline import Pipeline

    other = tmp_path / "other"
    shutil.copytree(default_model_dir, other)
    with (other / "model.keras").open("ab") as fh:
        fh.write(b"\0")  # other weights file, same card: a different model to the fingerprint
    assert model_fingerprint(other) != model_fingerprint(default_model_dir)
    cal = _fit(np.stack([ANGRY_AS_NEUTRAL, PLAIN_NEUTRAL]), ["angry", "neutral"],
               fingerprint=model_fingerprint(other))
    clf = get_classifier(default_model_dir)
    with pytest.raises(CalibrationError) as err:
        Pipeline(clf, calibration=cal)
    assert str(err.value) == "this calibration was made for another model (m); calibrate again with this one"
    with pytest.raises(CalibrationError):
        CalibratedClassifier(clf, cal)


def test_the_pipeline_hook_calibrates_every_face_and_leaves_the_shared_pipeline_alone(default_model_dir, astronaut):
    from fer_core.inference.pipeline import get_pipeline

    pipe = get_pipeline(default_model_dir, "haar")
    plain = pipe.analyze(astronaut, classify="largest")[0]
    names = pipe.classifier.class_names
    p = np.array([plain.probabilities[c] for c in names])
    second = names[int(np.argsort(p)[-2])]  # calibrate this very face as the model's second choice
    cal = fit_calibration(np.stack([p, np.roll(p, 3)]), [second, plain.label], names, model_name="default",
                          model_fingerprint=model_fingerprint(default_model_dir))
    mine = get_pipeline(default_model_dir, "haar", calibration=cal)
    face = mine.analyze(astronaut, classify="largest")[0]
    assert face.probabilities[second] > plain.probabilities[second] + 0.01
    assert np.allclose([face.probabilities[c] for c in names], cal.apply(p[None])[0], atol=1e-4)
    assert mine.classifier.predict([astronaut]).shape == (1, len(names))  # what a frame analyser calls
    shared = get_pipeline(default_model_dir, "haar").analyze(astronaut, classify="largest")[0]
    assert shared.probabilities == pytest.approx(plain.probabilities, abs=1e-5)
    undone = mine.with_calibration(None).analyze(astronaut, classify="largest")[0]
    assert undone.probabilities == pytest.approx(plain.probabilities, abs=1e-5)
