"""Distillation: teachers' probabilities blended into the training targets (``train --teacher``)."""

import dataclasses
import json

import numpy as np
import pytest

from fer_core.inference.classifier import Classifier
from fer_core.training import distill
from fer_core.training.config import TrainConfig
from fer_core.training.distill import CACHE_FILE, blend_targets, class_columns, distilled_targets, teacher_probabilities
from fer_core.training.trainer import main, train
from tests.helpers import CLASSES, synthetic_faces, write_npz


def _images(n: int = 6) -> np.ndarray:
    x, _ = synthetic_faces(2)
    return x[:n, :, :, None]


def test_teacher_probabilities_are_the_teachers_own_predictions(tiny_model_dir):
    x = _images()
    clf = Classifier(tiny_model_dir)
    expected = clf.predict([img[:, :, 0] for img in x])  # with the card's views, as the app labels a face
    got = teacher_probabilities([str(tiny_model_dir)], x, list(clf.class_names))
    assert got.shape == expected.shape and np.allclose(got, expected, atol=1e-5)


def test_two_teachers_are_averaged_and_classes_follow_the_run(tiny_model_dir):
    x = _images()
    one = teacher_probabilities([str(tiny_model_dir)], x, CLASSES)
    two = teacher_probabilities([str(tiny_model_dir)] * 2, x, CLASSES)
    assert np.allclose(one, two, atol=1e-6)
    # the run's classes in another order, plus one the teacher lacks: columns follow the names, rows sum to 1
    names = ["sad", "angry", "happy", "contempt"]
    mapped = teacher_probabilities([str(tiny_model_dir)], x, names)
    assert np.allclose(mapped[:, :3], one[:, [2, 0, 1]], atol=1e-5)
    assert np.all(mapped[:, 3] == 0) and np.allclose(mapped.sum(axis=1), 1.0, atol=1e-5)


def test_a_teacher_that_knows_too_few_classes_is_refused():
    with pytest.raises(ValueError, match="too few of the classes"):
        class_columns(["angry", "happy"], ["sad", "fear", "surprise", "happy"], "models/x")


def test_blend_targets():
    targets = np.eye(3, dtype=np.float32)[[0, 1]]
    teacher = np.full((2, 3), 1 / 3, np.float32)
    assert np.allclose(blend_targets(targets, teacher, 0.25), 0.75 * targets + 0.25 / 3)
    assert np.allclose(blend_targets(targets, teacher, 0.0), targets)
    with pytest.raises(ValueError, match="between 0 and 1"):
        blend_targets(targets, teacher, 1.5)
    with pytest.raises(ValueError, match="do not match"):
        blend_targets(targets, teacher[:1], 0.5)


def test_the_teachers_labels_are_kept_for_a_resumed_run(tiny_model_dir, tmp_path, monkeypatch):
    x = _images()
    targets = np.eye(3, dtype=np.float32)[[0, 1, 2, 0, 1, 2]]
    first = distilled_targets([str(tiny_model_dir)], 0.5, x, targets, CLASSES, tmp_path, "fp1")
    assert (tmp_path / CACHE_FILE).is_file()

    def no_teacher_runs(*args, **kwargs):
        raise AssertionError("the teachers ran again")

    monkeypatch.setattr(distill, "teacher_probabilities", no_teacher_runs)
    again = distilled_targets([str(tiny_model_dir)], 0.8, x, targets, CLASSES, tmp_path, "fp1")
    teacher = (first - 0.5 * targets) / 0.5
    assert np.allclose(again, 0.2 * targets + 0.8 * teacher, atol=1e-5)  # the weight applies afresh
    with pytest.raises(AssertionError, match="ran again"):  # other images: the cache is stale
        distilled_targets([str(tiny_model_dir)], 0.5, x, targets, CLASSES, tmp_path, "fp2")


def test_training_with_a_teacher(tiny_model_dir, tmp_path):
    data = write_npz(tmp_path / "d.npz", n_per_class=8)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "student"), width=4, epochs=1, batch_size=8,
                      precision="float32", verbose=0, checkpoint_dir=str(tmp_path / "ck"), tta=False,
                      teachers=[str(tiny_model_dir)], teacher_weight=0.7)
    out = train(cfg)
    card = json.loads((out / "model.json").read_text())
    assert "distilled: 0.7" in card["trained_on"] and str(tiny_model_dir) in card["trained_on"]
    assert card["training"]["config"]["teachers"] == [str(tiny_model_dir)]
    with np.load(tmp_path / "ck" / CACHE_FILE) as f:
        probs = f["probs"]
    from fer_core.data.datasets import load_dataset
    from fer_core.training.data import split_to_arrays

    x_train, _ = split_to_arrays(load_dataset(str(data)).split("Training"), (48, 48), "grayscale")
    assert np.allclose(probs, teacher_probabilities([str(tiny_model_dir)], x_train, CLASSES), atol=1e-5)
    # the same run with the teacher's share at 0 (same seed, images, order and teacher runs) fits the
    # labels alone: another loss from the first epoch on
    plain = train(dataclasses.replace(cfg, out=str(tmp_path / "plain"), checkpoint_dir=str(tmp_path / "ck2"),
                                      teacher_weight=0.0))

    def first_loss(model_dir):
        return json.loads((model_dir / "history.json").read_text())["epochs"][0]["loss"]

    assert abs(first_loss(out) - first_loss(plain)) > 1e-4


def test_a_bad_teacher_is_refused_before_training(tmp_path, capsys):
    data = write_npz(tmp_path / "d.npz", n_per_class=4)
    code = main(["--data", str(data), "--out", str(tmp_path / "m"), "--teacher", str(tmp_path / "nowhere")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error:") and "nowhere" in err
    assert not (tmp_path / "m").exists()
    assert main(["--data", str(data), "--out", str(tmp_path / "m"), "--teacher", str(tmp_path),
                 "--teacher-weight", "2"]) == 2
    assert "--teacher-weight" in capsys.readouterr().err


def test_a_checkpoint_older_than_a_setting_still_resumes(tmp_path):
    """A checkpoint written before ``teachers`` existed resumes when the run leaves them at their default."""
    data = write_npz(tmp_path / "d.npz", n_per_class=6)
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "m"), width=4, epochs=1, batch_size=8, precision="float32",
                      verbose=0, checkpoint_dir=str(tmp_path / "ck"), tta=False)
    train(cfg)
    state_path = tmp_path / "ck" / "state.json"
    state = json.loads(state_path.read_text())
    for key in ("teachers", "teacher_weight"):
        del state["config"][key]
    state_path.write_text(json.dumps(state))
    epochs: list[int] = []
    train(cfg, progress=lambda e: epochs.append(e["epoch"]) if e["event"] == "epoch" else None)
    assert epochs == []  # resumed: the finished phase is not trained again
