"""webui.models: the process-wide cached pipeline, and deleting a model by the one rule of fer_core.registry."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from webui.models import cached_pipeline, deletable_models, delete_model_folder, kept_models_note


def test_cached_pipeline_is_shared_and_reloads_on_change(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    p1 = cached_pipeline(str(d), "haar")
    p2 = cached_pipeline(d, "haar")
    assert p1 is p2 and p1.classifier.class_names == ["angry", "happy", "sad"]
    assert cached_pipeline(d, "haar", min_neighbors=8).classifier is p1.classifier  # one model, two detectors
    card = json.loads((d / "model.json").read_text())
    card["notes"] = "changed"
    (d / "model.json").write_text(json.dumps(card))
    st = (d / "model.json").stat()
    os.utime(d / "model.json", (st.st_atime, st.st_mtime + 10))
    p3 = cached_pipeline(d, "haar")
    assert p3 is not p1 and p3.classifier.card.notes == "changed"


def test_deletion_follows_the_registry_rule(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Shipped models and the configured default are kept, with the reason a refused delete gives."""
    from fer_core.registry import list_models

    shutil.copytree(app_env / "tiny", app_env / "spare")
    try:
        monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
        models = list_models(app_env, "tiny")
        assert [m.name for m in deletable_models(models)] == ["broken", "spare"]
        note = kept_models_note(models)
        refused = delete_model_folder("tiny")
        assert refused is not None and "default model" in refused and (app_env / "tiny").is_dir()
        assert refused[0].upper() + refused[1:] + "." in note
        assert "shipped with the app" in note  # "default"
        assert delete_model_folder("spare") is None and not (app_env / "spare").exists()
    finally:
        shutil.rmtree(app_env / "spare", ignore_errors=True)
