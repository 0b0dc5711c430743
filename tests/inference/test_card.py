import json

import numpy as np
import pytest

from fer_core.errors import ModelError
from fer_core.inference.card import ModelCard, Normalization, load_card


def _card(**over):
    data = {"name": "m", "class_names": ["a", "b"], "input_size": [48, 48], "color_mode": "grayscale",
            "normalization": {"scale": 1 / 255, "mean": [0.5], "std": [0.5]}}
    data.update(over)
    return data


def test_round_trip(tmp_path):
    card = ModelCard.from_json(_card(tta=["hflip"]))
    card.save(tmp_path)
    again = load_card(tmp_path)
    assert again.class_names == ["a", "b"] and again.input_size == (48, 48) and again.tta == ["hflip"]
    assert again.normalization.mean == [0.5]


def test_normalization_formula():
    norm = Normalization(scale=1 / 255, mean=[0.5], std=[0.5])
    out = norm.apply(np.array([[[[0], [255]]]], dtype=np.uint8))
    assert out.ravel().tolist() == pytest.approx([-1.0, 1.0])


@pytest.mark.parametrize("over,msg", [
    ({"class_names": []}, "class_names"),
    ({"class_names": ["a", "a"]}, "duplicates"),
    ({"input_size": [48]}, "input_size"),
    ({"input_size": [48, 5000]}, "input_size"),
    ({"color_mode": "cmyk"}, "color_mode"),
    ({"normalization": {"std": [0]}}, "std"),
    ({"normalization": {"mean": [1, 2]}}, "mean"),
    ({"model_file": "../../evil.keras"}, "model_file"),
    ({"model_file": "model.pkl"}, "model_file"),
    ({"tta": ["rot90"]}, "tta"),
    ({"tta": ["zoom:5"]}, "tta"),
    ({"tta": ["zoom:big"]}, "tta"),
    ({"tta": [3]}, "tta"),
    ({"tta": ["hflip"] * 9}, "tta"),
])
def test_bad_cards_refused(over, msg):
    with pytest.raises(ModelError, match=msg):
        ModelCard.from_json(_card(**over))


def test_load_card_errors(tmp_path):
    with pytest.raises(ModelError, match="no such model folder"):
        load_card(tmp_path / "missing")
    with pytest.raises(ModelError, match="model.json"):
        load_card(tmp_path)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(ModelError, match="not valid JSON"):
        load_card(tmp_path)
    (tmp_path / "model.json").write_text(json.dumps([1, 2]))
    with pytest.raises(ModelError, match="JSON object"):
        load_card(tmp_path)


def test_zoom_views_are_read_from_the_card():
    from fer_core.inference.card import tta_zooms

    card = ModelCard.from_json(_card(tta=["hflip", "zoom:1.1", "zoom:0.9"]))
    assert tta_zooms(card.tta) == [1.1, 0.9]
    assert tta_zooms(["hflip"]) == []


def test_view_count_is_what_the_classifier_runs():
    from fer_core.inference.card import view_count

    assert view_count([]) == 1 and view_count(["hflip"]) == 2
    assert view_count(["hflip", "zoom:1.1", "zoom:0.9"]) == 6 and view_count(["zoom:1.1"]) == 2
