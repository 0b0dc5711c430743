"""Nothing named by a user leads outside its configured root: fer_core.paths, model names
(model_folder.resolve_model_dir) and the models list (registry)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fer_core.errors import ModelError, PathEscapeError
from fer_core.model_folder import resolve_model_dir
from fer_core.paths import is_within, safe_join
from fer_core.registry import delete_model, list_models

HOSTILE_NAMES = ["..", ".", "", "../x", "a/../../x", "/etc", "/", "a/b", "..\\x", "x\x00y", "~/../../etc"]


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "root"
    (r / "inside").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    os.symlink(outside, r / "link_out")
    os.symlink(r / "inside", r / "link_in")
    return r


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_safe_join_refuses_hostile_names(root: Path, name: str):
    with pytest.raises(PathEscapeError):
        safe_join(root, name)


@pytest.mark.parametrize("parts", [("inside", ".."), ("inside", "../.."), ("link_out",), ("link_out", "secret.txt")])
def test_safe_join_refuses_escapes_in_any_part(root: Path, parts: tuple[str, ...]):
    with pytest.raises(PathEscapeError):
        safe_join(root, *parts)


def test_safe_join_allows_plain_names(root: Path):
    assert safe_join(root, "inside") == root / "inside"
    assert safe_join(root, "inside", "new.jpg") == root / "inside" / "new.jpg"  # need not exist
    assert safe_join(root, "..%2f..%2fetc") == root / "..%2f..%2fetc"  # odd but legal: one name
    assert safe_join(root, "...") == root / "..."
    assert safe_join(root, "link_in") == root / "link_in"  # a link that stays inside is fine


def test_safe_join_refuses_non_strings(root: Path):
    for bad in (None, 3, b"inside", Path("inside")):
        with pytest.raises(PathEscapeError):
            safe_join(root, bad)  # type: ignore[arg-type]


def test_is_within(root: Path):
    assert is_within(root, root)
    assert is_within(root, root / "inside" / "x")
    assert not is_within(root, root / "..")
    assert not is_within(root, root / "link_out" / "secret.txt")
    assert not is_within(root / "inside", root / "inside2")  # a prefix is not a parent


# ---------------------------------------------------------------- model names
def _model(d: Path) -> Path:
    d.mkdir(parents=True)
    (d / "model.json").write_text(json.dumps({"class_names": ["a", "b"], "input_size": [48, 48]}))
    return d


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    models = tmp_path / "models"
    _model(models / "good")
    _model(tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", models / "evil")
    monkeypatch.setenv("FER_MODELS_DIR", str(models))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "good")
    return models


@pytest.mark.parametrize("name", HOSTILE_NAMES + ["evil"])
def test_resolve_model_dir_refuses_hostile_names(models_dir: Path, name: str):
    with pytest.raises(ModelError) as info:
        resolve_model_dir(name, names_only=True)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("name", ["..", ".", "", "evil"])
def test_plain_hostile_names_refused_even_for_the_command_line(models_dir: Path, name: str):
    with pytest.raises(ModelError):
        resolve_model_dir(name)


def test_resolve_model_dir_names_and_paths(models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    assert resolve_model_dir("good") == models_dir / "good"
    assert resolve_model_dir() == models_dir / "good"  # FER_DEFAULT_MODEL
    # a folder of the same name in the working directory does not shadow the models folder
    monkeypatch.chdir(tmp_path)
    _model(tmp_path / "good")
    assert resolve_model_dir("good") == models_dir / "good"
    # an explicit path is the operator's choice (command line), refused where only names are allowed
    assert resolve_model_dir(str(tmp_path / "elsewhere")) == tmp_path / "elsewhere"
    assert resolve_model_dir(tmp_path / "elsewhere") == tmp_path / "elsewhere"
    with pytest.raises(ModelError, match="no paths"):
        resolve_model_dir(str(tmp_path / "elsewhere"), names_only=True)
    with pytest.raises(ModelError, match="not found"):
        resolve_model_dir("missing")


def test_hostile_default_model_setting(models_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FER_DEFAULT_MODEL", "../../etc")
    with pytest.raises(ModelError):
        resolve_model_dir(names_only=True)


def test_models_list_skips_links_out_and_delete_stays_inside(models_dir: Path, tmp_path: Path):
    assert [m.name for m in list_models(models_dir)] == ["good"]
    for name in ("..", "../elsewhere", "/tmp", ""):
        with pytest.raises((PathEscapeError, ModelError)):
            delete_model(models_dir, name)
    with pytest.raises((PathEscapeError, ModelError)):
        delete_model(models_dir, "evil")
    assert (tmp_path / "elsewhere" / "model.json").is_file()
