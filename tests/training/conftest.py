"""Fixtures shared by the training tests that run real jobs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import stop_all_jobs


@pytest.fixture()
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty models folder for the job's output (``FER_MODELS_DIR``; the child process inherits it)."""
    d = tmp_path / "models"
    d.mkdir()
    monkeypatch.setenv("FER_MODELS_DIR", str(d))
    return d


@pytest.fixture()
def clean_jobs() -> Iterator[None]:
    """No job of another test running before or after (modules opt in with ``usefixtures``)."""
    stop_all_jobs()
    yield
    stop_all_jobs()
