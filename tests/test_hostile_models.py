"""Hostile or broken model folders: each is refused with a one-line ``ModelError``, and no code in
a model file ever runs (Keras safe mode stays on)."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest

from fer_core.errors import ModelError
from fer_core.inference.classifier import MAX_MODEL_BYTES, Classifier
from fer_core.registry import inspect_model


@pytest.fixture()
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the real tiny model, free to damage."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def _card(d: Path) -> dict:
    return json.loads((d / "model.json").read_text())


def _write_card(d: Path, data: object) -> None:
    (d / "model.json").write_text(json.dumps(data), encoding="utf-8")


def refused(d: Path, match: str) -> str:
    with pytest.raises(ModelError) as info:
        Classifier(d)
    message = str(info.value)
    assert match.lower() in message.lower(), message
    assert "\n" not in message and "\r" not in message and len(message) <= 500
    return message


def test_the_untouched_copy_loads(model_copy: Path):
    assert Classifier(model_copy).class_names == _card(model_copy)["class_names"]


@pytest.mark.parametrize("raw,match", [
    (b"{ not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"\xff\xfe binary", "not valid JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON"),  # nested too deeply for the parser
    (b"[1, 2, 3]", "JSON object"),
    (b"null", "JSON object"),
])
def test_invalid_card_text(model_copy: Path, raw: bytes, match: str):
    (model_copy / "model.json").write_bytes(raw)
    refused(model_copy, match)
    info = inspect_model(model_copy)  # the models list shows the reason instead of raising
    assert not info.usable and info.error and "\n" not in info.error


@pytest.mark.parametrize("field,value,match", [
    ("class_names", "angry,happy,sad", "class_names"),
    ("class_names", [1, 2, 3], "class_names"),
    ("class_names", ["a", "", "c"], "class_names"),
    ("input_size", ["48", "48"], "input_size"),
    ("input_size", [48.0, 48.0], "input_size"),
    ("input_size", [48, 10**9], "input_size"),
    ("input_size", {"h": 48}, "input_size"),
    ("color_mode", 3, "color_mode"),
    ("normalization", "none", "normalization"),
    ("normalization", {"std": [0.0]}, "std"),
    ("normalization", {"std": "1"}, "std"),
    ("normalization", {"mean": [float("nan")]}, "mean"),
    ("normalization", {"scale": "x"}, "numbers"),
    ("normalization", {"scale": float("inf")}, "std"),
    ("model_file", "../../x.keras", "model_file"),
    ("model_file", "/etc/passwd.keras", "model_file"),
    ("model_file", "sub/model.keras", "model_file"),
    ("model_file", "model.h5", "model_file"),
    ("model_file", ["model.keras"], "model_file"),
    ("tta", "hflip", "tta"),
    ("face_margin", "big", "face_margin"),
    ("face_margin", float("nan"), "face_margin"),
    ("format_version", "two", "format_version"),
    ("format_version", {"v": 1}, "format_version"),
])
def test_wrong_types_and_values(model_copy: Path, field: str, value: object, match: str):
    data = _card(model_copy)
    data[field] = value
    _write_card(model_copy, data)
    refused(model_copy, match)


def test_huge_card(model_copy: Path):
    data = _card(model_copy)
    data["notes"] = "x" * 2_000_000
    _write_card(model_copy, data)
    refused(model_copy, "too large")


def test_card_link_leading_out(model_copy: Path, tmp_path: Path):
    outside = tmp_path / "outside.json"
    outside.write_text((model_copy / "model.json").read_text())
    (model_copy / "model.json").unlink()
    os.symlink(outside, model_copy / "model.json")
    refused(model_copy, "outside the model folder")


def test_model_file_link_leading_out(model_copy: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere.keras"
    shutil.move(model_copy / "model.keras", outside)
    os.symlink(outside, model_copy / "model.keras")
    refused(model_copy, "outside the model folder")


def test_non_zip_model_file(model_copy: Path):
    (model_copy / "model.keras").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 1000)
    refused(model_copy, "not a Keras .keras archive")


def test_zip_that_is_not_a_model(model_copy: Path):
    with zipfile.ZipFile(model_copy / "model.keras", "w") as zf:
        zf.writestr("readme.txt", "hello")
    refused(model_copy, "could not be loaded safely")


def test_oversized_model_file(model_copy: Path):
    with open(model_copy / "model.keras", "r+b") as fh:  # sparse: costs no disk
        fh.truncate(MAX_MODEL_BYTES + 1)
    refused(model_copy, "MB; refused")


def test_zip_bomb_model_file(model_copy: Path):
    """The central directory claims 3.75 GB unpacked: refused before Keras extracts anything."""
    path = model_copy / "model.keras"
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    data[at + 24:at + 28] = (0xF0000000).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    refused(model_copy, "unpacks to more than")


def test_empty_folder_and_missing_model_file(model_copy: Path, tmp_path: Path):
    (tmp_path / "empty").mkdir()
    refused(tmp_path / "empty", "no model.json")
    (model_copy / "model.keras").unlink()
    refused(model_copy, "missing")
    (model_copy / "model.keras").mkdir()  # a folder where the file should be
    refused(model_copy, "missing")


def _keras_file(path: Path, build) -> None:
    import keras

    model = build(keras)
    model.save(path)


def test_lambda_layer_is_refused_and_never_runs(model_copy: Path, tmp_path: Path):
    marker = tmp_path / "lambda_ran"

    def build(keras):
        inp = keras.Input((48, 48, 1))
        x = keras.layers.Flatten()(inp)
        # a literal path inside the code (no closure): Keras stores the lambda's bytecode
        fn = eval(f"lambda t: (open({str(marker)!r}, 'w').close(), t)[1]")  # noqa: S307
        x = keras.layers.Lambda(fn)(x)
        out = keras.layers.Dense(3, activation="softmax")(x)
        return keras.Model(inp, out)

    _keras_file(model_copy / "model.keras", build)
    marker.unlink()  # building the model ran the lambda once; loading must not
    message = refused(model_copy, "could not be loaded safely")
    assert "lambda" in message.lower() or "unsafe" in message.lower() or "safe_mode" in message.lower()
    assert not marker.exists()


def test_config_naming_a_module_outside_keras_is_refused(model_copy: Path):
    path = model_copy / "model.keras"
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(parts["config.json"])
    layer = _first_with_activation(config)
    assert layer is not None, "the tiny model has a layer with an activation"
    layer["config"]["activation"] = {"module": "os", "class_name": "function", "config": "system",
                                     "registered_name": "system"}
    parts["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    refused(model_copy, "could not be loaded safely")


def _first_with_activation(node: object) -> dict | None:
    if isinstance(node, dict):
        if isinstance(node.get("config"), dict) and "activation" in node["config"]:
            return node
        children = list(node.values())
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        found = _first_with_activation(child)
        if found is not None:
            return found
    return None


def test_output_size_disagrees_with_the_card(model_copy: Path):
    data = _card(model_copy)
    data["class_names"] = data["class_names"] + ["extra"]
    _write_card(model_copy, data)
    refused(model_copy, "outputs")


def test_input_size_disagrees_with_the_card(model_copy: Path):
    data = _card(model_copy)
    data["input_size"] = [32, 32]
    _write_card(model_copy, data)
    refused(model_copy, "takes")
    data["input_size"], data["color_mode"] = [48, 48], "rgb"
    data["normalization"] = {"scale": 1 / 255, "mean": [0.0], "std": [1.0]}
    _write_card(model_copy, data)
    refused(model_copy, "takes")
