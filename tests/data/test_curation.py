"""Curation of captured images: listing, counts, relabel, delete, containment, balance and confusion hints."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_core.data.curation import (
    FRAMES_DIR,
    UNSORTED,
    balance_warnings,
    class_folder_name,
    confused_pairs,
    counts,
    delete,
    list_items,
    move,
    training_blocker,
)
from fer_core.data.datasets import load_dataset
from fer_core.errors import FerError, PathEscapeError


def _img(path: Path, value: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 20, 3), value, np.uint8)).save(path)
    return path


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    r = tmp_path / "captures"
    for i in range(3):
        _img(r / "happy" / f"h{i}.jpg")
    _img(r / "sad" / "s0.jpg")
    _img(r / UNSORTED / "u0.jpg")
    _img(r / FRAMES_DIR / "happy" / "h0.jpg")  # the full frame kept with happy/h0.jpg
    (r / "happy" / "notes.txt").write_text("not an image")
    return r


def test_counts_and_listing(root):
    assert counts(root) == {"happy": 3, "sad": 1, UNSORTED: 1}
    items = list_items(root, "happy")
    assert sorted(i.name for i in items) == ["h0.jpg", "h1.jpg", "h2.jpg"]
    assert next(i for i in items if i.name == "h0.jpg").frame == root / FRAMES_DIR / "happy" / "h0.jpg"
    page1, page2 = list_items(root, "happy", 0, 2), list_items(root, "happy", 2, 2)
    assert len(page1) == 2 and len(page2) == 1
    assert {i.name for i in page1} | {i.name for i in page2} == {"h0.jpg", "h1.jpg", "h2.jpg"}
    assert list_items(root, "never") == []


def test_relabel_moves_image_and_frame(root):
    new = move(root, "happy", "h0.jpg", "Sadness")  # synonyms land in the canonical folder
    assert new == root / "sad" / "h0.jpg" and new.is_file()
    assert not (root / "happy" / "h0.jpg").exists()
    assert (root / FRAMES_DIR / "sad" / "h0.jpg").is_file()
    assert counts(root) == {"happy": 2, "sad": 2, UNSORTED: 1}
    # a name clash gets a suffix instead of overwriting
    _img(root / "wink" / "s0.jpg", 7)
    moved = move(root, "sad", "s0.jpg", "wink")
    assert moved.name == "s0-1.jpg" and (root / "wink" / "s0.jpg").is_file()
    # relabel out of unsorted into a new class
    assert move(root, UNSORTED, "u0.jpg", "my face").parent == root / "my_face"


def test_delete(root):
    delete(root, "happy", "h0.jpg")
    assert not (root / "happy" / "h0.jpg").exists()
    assert not (root / FRAMES_DIR / "happy" / "h0.jpg").exists()
    assert counts(root)["happy"] == 2
    with pytest.raises(FerError, match="no such image"):
        delete(root, "happy", "h0.jpg")
    with pytest.raises(FerError, match="not an image"):
        delete(root, "happy", "notes.txt")


@pytest.mark.parametrize("bad", ["../x", "/etc", "a/b", "..", "", "  ", ".frames", "x\\y"])
def test_names_that_escape_are_refused(root, bad):
    with pytest.raises((FerError, ValueError)):
        move(root, "happy", "h1.jpg", bad)
    with pytest.raises(FerError):
        delete(root, bad, "h1.jpg")
    with pytest.raises(FerError):
        delete(root, "happy", bad or "..")
    assert (root / "happy" / "h1.jpg").is_file()


def test_class_name_validation():
    assert class_folder_name(" Happiness ") == "happy"
    assert class_folder_name("my face-2") == "my_face_2"  # the name datasets will use
    for bad in ("../x", "/abs/path", "", "   ", "a/b", "..", "x" * 80, "é?"):
        with pytest.raises(ValueError):
            class_folder_name(bad)


def test_symlinks_out_of_the_root_are_ignored_and_refused(root, tmp_path):
    outside = tmp_path / "outside"
    secret = _img(outside / "secret.jpg")
    os.symlink(outside, root / "linked")  # a class folder that is a link
    os.symlink(secret, root / "happy" / "link.jpg")  # an image that is a link
    assert "linked" not in counts(root)
    assert counts(root)["happy"] == 3
    assert all(i.name != "link.jpg" for i in list_items(root, "happy"))
    with pytest.raises(PathEscapeError):
        delete(root, "happy", "link.jpg")
    with pytest.raises(PathEscapeError):
        list_items(root, "linked")
    with pytest.raises(PathEscapeError):
        move(root, "happy", "h1.jpg", "linked")
    assert secret.is_file()


def test_unsorted_is_not_a_training_class(root):
    ds = load_dataset(root)
    assert ds.class_names == ["happy", "sad"]


def test_balance_warnings():
    assert balance_warnings({"happy": 30, "sad": 25}) == []
    small = balance_warnings({"happy": 30, "sad": 4})
    assert any("'sad' has only 4 images" in w for w in small)
    assert any("unbalanced" in w and "'happy'" in w for w in small)
    assert any("at least two classes" in w for w in balance_warnings({"happy": 30, UNSORTED: 3}))
    assert any("wait in 'unsorted'" in w for w in balance_warnings({"happy": 30, "sad": 30, UNSORTED: 3}))
    assert training_blocker({"happy": 5}) is not None
    assert training_blocker({"happy": 5, "sad": 1}) is not None
    assert training_blocker({"happy": 5, "sad": 2, UNSORTED: 9}) is None


def test_confused_pairs():
    report = {"class_names": ["happy", "sad", "neutral"],
              "confusion_matrix": [[8, 0, 2], [1, 4, 5], [0, 3, 7]]}
    pairs = confused_pairs(report, top=2)
    assert [(p["true"], p["predicted"], p["count"]) for p in pairs] == [("sad", "neutral", 5), ("neutral", "sad", 3)]
    assert pairs[0]["share"] == pytest.approx(0.5)
    assert confused_pairs({"class_names": ["a", "b"], "confusion_matrix": [[3, 0], [0, 3]]}) == []
    assert len(confused_pairs(report)) == 3


def test_dropped_classes_are_the_models_classes_not_captured():
    from fer_core.data.curation import dropped_classes

    model = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
    counts = {"fear": 5, "happy": 6, "sad": 4, "wink": 5, "unsorted": 9, "neutral": 0}
    assert dropped_classes(model, counts) == ["angry", "disgust", "surprise", "neutral"]
