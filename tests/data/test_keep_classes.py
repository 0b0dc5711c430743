"""Keeping a starting model's other classes: the plan, the source probe and the training folder (real files)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_core.data.datasets import load_dataset
from fer_core.data.keep_classes import (
    build_training_folder,
    default_per_class,
    find_source,
    kept_folder,
    plan_keep,
)
from fer_core.data.labels import FER2013_CLASSES
from fer_core.errors import DatasetError
from fer_core.training.config import KEEP_CLASSES, keep_extra, personal_config
from tests.conftest import DEFAULT_MODEL, FER_NPZ, need_shared

DEFAULT_CLASSES = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral", "contempt"]  # models/default
SPLITS = ("Training", "PublicTest", "PrivateTest")


def write_fer_npz(path: Path, per_class_split: int = 12) -> Path:
    """A tiny ``fer2013.npz`` in the shared file's format; each face's pixels say its row and split.

    Pixel (0, 0) and (0, 1) hold the row number (high, low byte), pixel (0, 2) the usage index,
    so a face written out as PNG (lossless) tells where it came from.
    """
    images, labels, usage, files = [], [], [], []
    for u, split in enumerate(SPLITS):
        for label in range(len(FER2013_CLASSES)):
            for _ in range(per_class_split):
                row = len(images)
                img = np.full((48, 48), 60 + 20 * label, dtype=np.uint8)
                img[0, :3] = (row // 256, row % 256, u)
                images.append(img)
                labels.append(label)
                usage.append(u)
                files.append(f"{split}_{1000 + row}.jpg")
    np.savez(path, images=np.stack(images), labels=np.array(labels, dtype=np.int8),
             usage=np.array(usage, dtype=np.int8), class_names=np.array(FER2013_CLASSES),
             usage_names=np.array(SPLITS), source_files=np.array(files))
    return path


def write_png_captures(root: Path, per_class: dict[str, int]) -> Path:
    """``root/<class>/*.png`` real RGB pictures, plus an ``unsorted`` picture and a kept full frame."""
    rng = np.random.default_rng(7)
    for cls, n in {**per_class, "unsorted": 2}.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(root / cls / f"{cls}-{i}.png")
    (root / ".frames" / "happy").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((120, 160, 3), np.uint8)).save(root / ".frames" / "happy" / "happy-0.png")
    return root


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def origin(png: Path) -> tuple[int, int]:
    """(row, usage) a written FER face came from."""
    px = np.asarray(Image.open(png))
    return int(px[0, 0]) * 256 + int(px[0, 1]), int(px[0, 2])


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, Path]:
    captures = write_png_captures(tmp_path / "captures", {"fear": 4, "happy": 6, "sad": 5, "wink": 3})
    return {"captures": captures, "npz": write_fer_npz(tmp_path / "fer2013.npz"), "tmp": tmp_path}


# ----------------------------------------------------------------------------- plan and source


def test_plan_names_the_missing_classes_and_those_the_source_lacks(world: dict[str, Path]) -> None:
    source = find_source(world["npz"])
    assert source is not None and source.label == "FER2013" and source.classes == FER2013_CLASSES
    counts = {"fear": 4, "happy": 6, "sad": 5, "wink": 3, "unsorted": 2}
    plan = plan_keep(DEFAULT_CLASSES, counts, source)
    assert plan.missing == ("angry", "disgust", "surprise", "neutral", "contempt")
    assert plan.kept == ("angry", "disgust", "surprise", "neutral")
    assert plan.lacking == ("contempt",)  # FER2013's labels have no contempt
    assert plan.per_class == 50
    none = plan_keep(DEFAULT_CLASSES, counts, None)
    assert none.missing == plan.missing and none.kept == () and none.lacking == plan.missing
    assert plan_keep(DEFAULT_CLASSES, counts, source, per_class=7).per_class == 7
    with pytest.raises(ValueError):
        plan_keep(DEFAULT_CLASSES, counts, source, per_class=0)


def test_default_faces_per_class_follow_the_median_capture_count() -> None:
    assert default_per_class({"a": 10, "b": 30}) == 50  # at least 50
    assert default_per_class({"a": 80, "b": 120, "c": 100, "unsorted": 900}) == 100  # unsorted not counted
    assert default_per_class({"a": 800, "b": 1000}) == 300  # at most 300
    assert default_per_class({}) == 50


def test_find_source_looks_without_loading(tmp_path: Path) -> None:
    assert find_source(None) is None and find_source("") is None
    assert find_source(tmp_path / "absent.npz") is None
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    assert find_source(tmp_path / "bad.npz") is None
    faces = tmp_path / "my_faces"
    for split, cls in (("train", "Happiness"), ("train", "angry"), ("test", "sad")):
        (faces / split / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((48, 48), np.uint8)).save(faces / split / cls / "a.png")
    (faces / "train" / "empty").mkdir()
    folder = find_source(faces)
    assert folder is not None and folder.label == "my_faces"
    assert set(folder.classes) == {"happy", "angry"}  # the training split's classes with images


# ----------------------------------------------------------------------------- the training folder


def test_folder_holds_the_captures_plus_faces_of_exactly_the_missing_classes(world: dict[str, Path]) -> None:
    before = tree(world["tmp"])
    dest = world["tmp"] / "work" / "data"
    built = build_training_folder(world["captures"], world["npz"], ["angry", "surprise", "contempt"], 5, dest)
    assert built.added == {"angry": 5, "surprise": 5}  # no contempt in FER2013: left out, the others kept
    assert built.counts == {"fear": 4, "happy": 6, "sad": 5, "wink": 3, "angry": 5, "surprise": 5}
    assert sorted(p.name for p in dest.iterdir()) == ["angry", "fear", "happy", "sad", "surprise", "wink"]
    for cls in ("fear", "happy", "sad", "wink"):  # the captures, byte for byte; no unsorted, no frames
        assert tree(dest / cls) == tree(world["captures"] / cls)
    for cls, label in (("angry", 0), ("surprise", 5)):
        faces = sorted((dest / cls).iterdir())
        assert len(faces) == 5 and all(f.suffix == ".png" and f.name.startswith("Training-") for f in faces)
        for f in faces:
            row, usage = origin(f)
            assert usage == 0, f"{f.name} is not from the Training split"
            assert label * 12 <= row < (label + 1) * 12  # a face of that class (Training rows come first)
            assert np.asarray(Image.open(f)).shape == (48, 48)
    # nothing else was written or changed: captures and dataset as they were
    assert {k: v for k, v in tree(world["tmp"]).items() if not k.startswith("work/")} == before
    ds = load_dataset(dest)  # the trainer reads it like any image folder
    assert set(ds.class_names) == {"angry", "fear", "happy", "sad", "surprise", "wink"}


def test_faces_are_sampled_deterministically(world: dict[str, Path]) -> None:
    one = build_training_folder(world["captures"], world["npz"], ["angry", "neutral"], 4, world["tmp"] / "one")
    two = build_training_folder(world["captures"], world["npz"], ["angry", "neutral"], 4, world["tmp"] / "two")
    assert tree(one.root) == tree(two.root)
    alone = build_training_folder(world["captures"], world["npz"], ["neutral"], 4, world["tmp"] / "alone")
    assert tree(alone.root / "neutral") == tree(one.root / "neutral")  # a class's sample ignores the others
    other = build_training_folder(world["captures"], world["npz"], ["angry", "neutral"], 4, world["tmp"] / "seeded",
                                  seed=5)
    assert sorted(p.name for p in (other.root / "angry").iterdir()) != sorted(
        p.name for p in (one.root / "angry").iterdir())
    every = build_training_folder(world["captures"], world["npz"], ["angry"], 300, world["tmp"] / "every")
    assert every.added == {"angry": 12}  # fewer than asked: all the Training faces of the class, no test faces


def test_a_users_image_folder_dataset_lends_its_training_split(world: dict[str, Path]) -> None:
    faces = world["tmp"] / "faces"
    for split in ("train", "test"):
        for i in range(6):
            (faces / split / "angry").mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((48, 48), i, np.uint8)).save(faces / split / "angry" / f"{split}-{i}.png")
    built = build_training_folder(world["captures"], faces, ["angry"], 4, world["tmp"] / "out")
    names = sorted(p.name for p in (built.root / "angry").iterdir())
    assert built.added == {"angry": 4} and len(names) == 4 and all("-train-" in n for n in names)


def test_the_folder_never_goes_into_the_captures_and_is_removed_again(world: dict[str, Path]) -> None:
    before = tree(world["captures"])
    with pytest.raises(ValueError, match="inside"):
        build_training_folder(world["captures"], world["npz"], ["angry"], 3, world["captures"] / "tmp")
    assert tree(world["captures"]) == before
    nonempty = world["tmp"] / "full"
    nonempty.mkdir()
    (nonempty / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty"):
        build_training_folder(world["captures"], world["npz"], ["angry"], 3, nonempty)
    assert (nonempty / "keep.txt").read_text() == "mine"
    # a source that cannot be read: the half-built folder goes
    bad = world["tmp"] / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DatasetError):
        build_training_folder(world["captures"], bad, ["angry"], 3, world["tmp"] / "half")
    assert not (world["tmp"] / "half").exists()


def test_kept_folder_cleans_up_on_success_and_on_error(world: dict[str, Path]) -> None:
    parent = world["tmp"] / "job"
    parent.mkdir()
    with kept_folder(world["captures"], world["npz"], ["angry"], 3, parent=parent) as built:
        assert built.root.parent.parent == parent and built.added == {"angry": 3}
    assert list(parent.iterdir()) == []
    with pytest.raises(RuntimeError), kept_folder(world["captures"], world["npz"], ["angry"], 3, parent=parent):
        raise RuntimeError("training failed")
    assert list(parent.iterdir()) == []
    with pytest.raises(DatasetError), kept_folder(world["captures"], parent / "absent.npz", ["angry"], 3,
                                                  parent=parent):
        pass
    assert list(parent.iterdir()) == []


def test_personal_config_carries_the_plan_and_the_folder_then_knows_every_class(world: dict[str, Path]) -> None:
    """Without keeping, a fine-tune on these captures trains on fear, happy, sad, wink only (issue 13)."""
    counts = {"fear": 4, "happy": 6, "sad": 5, "wink": 3}
    plan = plan_keep(DEFAULT_CLASSES, counts, find_source(world["npz"]), per_class=3)
    plain = personal_config(world["captures"], "mine", init_model=DEFAULT_MODEL, models_dir=world["tmp"] / "m")
    assert keep_extra(plain) is None
    assert set(load_dataset(plain.data).class_names) == set(counts)  # today's loss
    cfg = personal_config(world["captures"], "mine", init_model=DEFAULT_MODEL, models_dir=world["tmp"] / "m",
                          keep=plan)
    extra = keep_extra(cfg)
    assert extra is not None and cfg.extra[KEEP_CLASSES] is extra
    assert extra["classes"] == ["angry", "disgust", "surprise", "neutral"] and extra["per_class"] == 3
    assert "3 FER2013 training faces each of angry, disgust, surprise, neutral" in cfg.notes
    json.dumps(cfg.extra)  # travels to the training process as JSON
    with kept_folder(cfg.data, extra["source"], extra["classes"], extra["per_class"]) as built:
        known = set(load_dataset(built.root).class_names)
    assert known == set(DEFAULT_CLASSES) - {"contempt"} | {"wink"}


# ----------------------------------------------------------------------------- the shared FER2013


def test_shared_fer2013_lends_every_default_class_but_contempt(tmp_path: Path) -> None:
    need_shared(FER_NPZ)
    source = find_source(FER_NPZ)
    assert source is not None and source.label == "FER2013" and source.classes == FER2013_CLASSES
    card = json.loads((DEFAULT_MODEL / "model.json").read_text())
    plan = plan_keep(card["class_names"], {"fear": 60, "happy": 60, "sad": 60, "wink": 60}, source)
    assert plan.kept == ("angry", "disgust", "surprise", "neutral") and plan.lacking == ("contempt",)
    assert plan.per_class == 60
    captures = write_png_captures(tmp_path / "captures", {"fear": 2, "happy": 2})
    built = build_training_folder(captures, FER_NPZ, plan.kept, 3, tmp_path / "data")
    assert built.added == {c: 3 for c in plan.kept}
    for cls in plan.kept:
        for f in (built.root / cls).iterdir():
            assert f.name.startswith("Training-") and Image.open(f).size == (48, 48)
