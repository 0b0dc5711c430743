"""fer_core.registry: listing model folders (broken ones with their error) and deleting safely."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fer_core.errors import ModelError, PathEscapeError
from fer_core.registry import can_delete, delete_model, deletion_refusal, list_models, usable_models


def _card(name: str) -> dict:
    return {"name": name, "class_names": ["angry", "happy"], "input_size": [48, 48]}


@pytest.fixture()
def models_root(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    for name in ("default", "zeta", "alpha"):
        d = root / name
        d.mkdir(parents=True)
        (d / "model.json").write_text(json.dumps(_card(name)))
        (d / "model.keras").write_bytes(b"PK")  # presence is what listing checks; loading is elsewhere
    (root / "broken").mkdir()
    (root / "broken" / "model.json").write_text("{ not json")
    (root / "empty").mkdir()
    (root / ".hidden").mkdir()
    (root / "nofile").mkdir()
    (root / "nofile" / "model.json").write_text(json.dumps(_card("nofile")))
    (root / "README.txt").write_text("not a folder")
    return root


def test_list_models_default_first_broken_listed_with_error(models_root: Path) -> None:
    models = list_models(models_root)
    names = [m.name for m in models]
    assert names == ["default", "alpha", "broken", "empty", "nofile", "zeta"]
    by = {m.name: m for m in models}
    assert by["alpha"].usable and by["alpha"].card.class_names == ["angry", "happy"]
    assert not by["broken"].usable and "not valid JSON" in by["broken"].error
    assert not by["empty"].usable and "no model.json" in by["empty"].error
    assert not by["nofile"].usable and "model.keras is missing" in by["nofile"].error
    assert [m.name for m in usable_models(models_root)] == ["default", "alpha", "zeta"]


def test_list_models_missing_folder_is_empty(tmp_path: Path) -> None:
    assert list_models(tmp_path / "nope") == []


def test_history_and_report_flags(models_root: Path) -> None:
    (models_root / "alpha" / "history.json").write_text('{"epochs": []}')
    alpha = next(m for m in list_models(models_root) if m.name == "alpha")
    assert alpha.has_history and not alpha.has_report


def test_delete_model_removes_folder(models_root: Path) -> None:
    delete_model(models_root, "alpha")
    assert not (models_root / "alpha").exists()
    assert (models_root / "zeta").exists()


@pytest.mark.parametrize("name", ["..", "../models", "/etc", "a/b", ""])
def test_delete_refuses_paths(models_root: Path, name: str) -> None:
    with pytest.raises(ModelError, match="not an allowed model name"):
        delete_model(models_root, name)
    assert (models_root / "default").exists()


def test_delete_refuses_default_missing_and_non_models(models_root: Path) -> None:
    with pytest.raises(ModelError, match="cannot be deleted"):
        delete_model(models_root, "default")
    with pytest.raises(ModelError, match="no model named"):
        delete_model(models_root, "ghost")
    with pytest.raises(ModelError, match="not a model folder"):
        delete_model(models_root, "empty")
    assert (models_root / "default").is_dir() and (models_root / "empty").is_dir()


def test_one_deletion_rule_keeps_shipped_and_configured_default(models_root: Path) -> None:
    assert not can_delete("default") and not can_delete("fer2013") and can_delete("alpha")
    assert not can_delete("alpha", default="alpha") and can_delete("zeta", default="alpha")
    reason = deletion_refusal("alpha", default="alpha")
    assert reason is not None and "default model" in reason
    with pytest.raises(ModelError) as refused:
        delete_model(models_root, "alpha", default="alpha")
    assert str(refused.value) == reason  # a refused deletion says exactly what the rule says
    assert (models_root / "alpha").is_dir()


def test_delete_refuses_symlink_out(models_root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    shutil.copytree(models_root / "zeta", outside)
    (models_root / "link").symlink_to(outside, target_is_directory=True)
    with pytest.raises((PathEscapeError, ModelError)):
        delete_model(models_root, "link")
    assert (outside / "model.json").exists()
