"""Fixtures for the Streamlit page tests: a models folder with real models, the env pointing at it."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session")
def models_root(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path, default_model_dir: Path) -> Path:
    """``default`` (the shipped model), ``tiny`` (trained here, with history and report) and ``broken``."""
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(default_model_dir, root / "default")
    shutil.copytree(tiny_model_dir, root / "tiny")
    (root / "broken").mkdir()
    (root / "broken" / "model.json").write_text("{ damaged")
    return root


@pytest.fixture()
def app_env(monkeypatch: pytest.MonkeyPatch, models_root: Path) -> Path:
    """Point the app at ``models_root`` (AppTest runs the page in this process, so env applies)."""
    monkeypatch.setenv("FER_MODELS_DIR", str(models_root))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "default")
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    # no cap on live sessions unless a test sets one: earlier tests' AppTest sessions may hold places
    # until they are garbage-collected (tests/app/test_live_capacity.py sets it)
    monkeypatch.setenv("FER_MAX_LIVE_SESSIONS", "0")
    return models_root


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="JPEG", quality=92)
    return buf.getvalue()
