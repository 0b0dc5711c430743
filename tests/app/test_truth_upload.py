"""The upload page, as a user meets it, labels photos anyone can check by eye as people do (tests/truth.py),
and its upload limit is the one Streamlit enforces."""

from __future__ import annotations

import io
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app.apptest import ROOT, no_exceptions, page, texts
from tests.truth import PHOTOS


@pytest.fixture(scope="module")
def shipped_models(tmp_path_factory: pytest.TempPathFactory, default_model_dir: Path) -> Path:
    root = tmp_path_factory.mktemp("shipped")
    shutil.copytree(default_model_dir, root / "default")
    return root


@pytest.fixture()
def shipped_env(monkeypatch: pytest.MonkeyPatch, shipped_models: Path) -> Path:
    """The app as installed: the shipped default model, every other setting at its default."""
    for name in ("FER_DEFAULT_MODEL", "FER_MAX_UPLOAD_MB", "FER_ICE_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FER_MODELS_DIR", str(shipped_models))
    return shipped_models


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=92)
    return buf.getvalue()


def test_upload_page_labels_each_photo_as_people_do(shipped_env: Path) -> None:
    files = [(f"{p.name}.jpg", _jpeg(p.photo()), "image/jpeg") for p in PHOTOS]
    at = page("pages/2_Upload_photos.py").run()
    at.file_uploader[0].set_value(files).run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    captions = {c.split(": ", 1)[0]: c.split(": ", 1)[1] for img in at.image for c in img.captions}
    assert set(captions) == {name for name, _, _ in files}
    for photo in PHOTOS:
        shown = captions[f"{photo.name}.jpg"]  # "happy 90%": one face, its expression and score
        assert shown.rsplit(" ", 1)[0] == photo.expression, (photo.name, shown)
    table = at.dataframe[0].value
    assert dict(zip(table["file"], table["label"])) == {f"{p.name}.jpg": p.expression for p in PHOTOS}


# ---------------------------------------------------------------- the upload limit
def _streamlit_limit_mb() -> int:
    with open(ROOT / ".streamlit" / "config.toml", "rb") as fh:
        return int(tomllib.load(fh)["server"]["maxUploadSize"])


def test_default_upload_limit_is_streamlits_and_the_pages(shipped_env: Path) -> None:
    """Streamlit refuses uploads over ``server.maxUploadSize`` before the engine sees them; the engine's own
    default limit, and what the page tells the user, must be that same number."""
    from fer_core.settings import Settings, get_settings

    limit = _streamlit_limit_mb()
    assert Settings().max_upload_mb == get_settings().max_upload_mb == limit
    at = page("pages/2_Upload_photos.py").run()
    no_exceptions(at)
    assert f"Up to {limit} MB each" in texts(at)


def test_engine_refuses_one_byte_over_streamlits_limit_and_takes_a_photo_at_it(shipped_env: Path) -> None:
    from fer_core.inference.batch import analyze_upload
    from fer_core.inference.pipeline import get_pipeline

    limit = _streamlit_limit_mb() * 2**20
    photo = _jpeg(PHOTOS[0].photo())
    at_limit = photo + b"\0" * (limit - len(photo))  # a JPEG reader stops at its end marker
    pipe = get_pipeline("default")
    ok = analyze_upload("big.jpg", at_limit, pipe)
    assert ok.error is None and ok.faces, ok.error
    over = analyze_upload("huge.jpg", at_limit + b"\0", pipe)
    assert over.error is not None and over.error.startswith("huge.jpg: ") and "limit" in over.error, over.error
    assert not over.faces
