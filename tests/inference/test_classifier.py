import numpy as np
import pytest

from fer_core.errors import ModelError
from fer_core.inference.classifier import Classifier, get_classifier


def test_predicts_probabilities_per_crop(tiny_model_dir, astronaut):
    clf = Classifier(tiny_model_dir)
    probs = clf.predict([astronaut, astronaut[:100, :80], np.zeros((10, 10), np.uint8)])
    assert probs.shape == (3, len(clf.class_names))
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    # same crop, same answer, whatever batch it is in
    assert np.allclose(clf.predict([astronaut])[0], probs[0], atol=1e-5)


def test_reads_preprocessing_from_the_card(tiny_model_dir, tmp_path, astronaut):
    import shutil

    from fer_core.inference.card import load_card

    copy = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, copy)
    card = load_card(copy)
    card.normalization.mean = [0.5]
    card.normalization.std = [0.25]
    card.tta = []
    card.save(copy)
    original, changed = Classifier(tiny_model_dir), Classifier(copy)
    # the model sees (pixel / 255 - 0.5) / 0.25 instead of pixel / 255: exactly that input, and its output
    x = original.prepare([astronaut])
    assert np.allclose(changed.prepare([astronaut]), (x - 0.5) / 0.25, atol=1e-6)
    expected = original.predict_batch((x - 0.5) / 0.25, tta=[])
    assert np.allclose(changed.predict([astronaut]), expected, atol=1e-5)
    assert not np.allclose(original.predict([astronaut], tta=[]), expected, atol=1e-3)  # the card mattered


def test_flip_averaging_is_symmetric(tiny_model_dir, astronaut):
    clf = Classifier(tiny_model_dir)
    assert clf.card.tta == ["hflip"]
    p = clf.predict([astronaut, astronaut[:, ::-1]])
    assert np.allclose(p[0], p[1], atol=1e-5)


def test_zoom_views_are_averaged(tiny_model_dir, astronaut):
    from fer_core.inference.preprocess import zoom_batch

    clf = Classifier(tiny_model_dir)
    x = clf.prepare([astronaut, astronaut[:200, :150]])
    plain = clf.predict_batch(x, tta=[])
    zoomed = clf.predict_batch(zoom_batch(x, 1.1), tta=[])
    both = clf.predict_batch(x, tta=["zoom:1.1"])
    assert np.allclose(both, (plain + zoomed) / 2, atol=1e-5)
    assert not np.allclose(plain, zoomed)  # the view really differs
    flip_zoom = clf.predict_batch(x, tta=["hflip", "zoom:1.1"])
    mirrored = clf.predict_batch(x[:, :, ::-1], tta=["zoom:1.1"])
    assert np.allclose(flip_zoom, (both + mirrored) / 2, atol=1e-5)


def test_cache_returns_same_instance(tiny_model_dir):
    assert get_classifier(tiny_model_dir) is get_classifier(tiny_model_dir)


def test_missing_model_file(tiny_model_dir, tmp_path):
    import shutil

    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    (d / "model.keras").unlink()
    with pytest.raises(ModelError, match="missing"):
        Classifier(d)
    (d / "model.keras").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="not a Keras"):
        Classifier(d)
    with pytest.raises(ModelError, match="no such model folder"):
        Classifier(tmp_path / "nothing")


def test_card_and_model_must_agree(tiny_model_dir, tmp_path):
    import shutil

    from fer_core.inference.card import load_card

    d = tmp_path / "m2"
    shutil.copytree(tiny_model_dir, d)
    card = load_card(d)
    card.class_names = card.class_names + ["extra"]
    card.save(d)
    with pytest.raises(ModelError, match="outputs"):
        Classifier(d)


def test_prepare_gives_the_values_worked_out_by_hand(tiny_model_dir):
    """A flat orange crop: grey by ITU-R BT.601 (0.299 R + 0.587 G + 0.114 B = 124.2, stored as 124),
    scaled by the card's 1/255; any crop size becomes the card's 48x48."""
    clf = Classifier(tiny_model_dir)
    assert clf.card.color_mode == "grayscale" and clf.card.input_size == (48, 48)
    assert clf.card.normalization.mean == [0.0] and clf.card.normalization.std == [1.0]
    orange = np.zeros((90, 70, 3), np.uint8)
    orange[...] = (200, 100, 50)
    x = clf.prepare([orange, np.full((10, 12), 255, np.uint8)])
    assert x.shape == (2, 48, 48, 1) and x.dtype == np.float32
    assert np.allclose(x[0], 124 / 255, atol=1e-6)
    assert np.allclose(x[1], 1.0, atol=1e-6)
