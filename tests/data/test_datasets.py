from __future__ import annotations

import numpy as np
import pytest

from fer_core.data.datasets import load_csv, load_dataset, load_folder, load_npz
from fer_core.errors import DatasetError
from tests.conftest import FER_NPZ, need_shared
from tests.helpers import CLASSES, synthetic_faces, write_folder, write_npz


def test_npz_splits_and_classes(tmp_path):
    ds = load_npz(write_npz(tmp_path / "d.npz", n_per_class=6))
    assert ds.class_names == CLASSES
    assert set(ds.splits) == {"Training", "PublicTest", "PrivateTest"}
    assert sum(len(s) for s in ds.splits.values()) == 18
    img = ds.split("test").image(0)  # alias of PrivateTest
    assert img.shape == (48, 48) and img.dtype == np.uint8
    assert sum(ds.counts()["Training"].values()) == len(ds.split("Training"))


def test_csv_kaggle_layout(tmp_path):
    x, y = synthetic_faces(2)
    lines = ["emotion,pixels,Usage"]
    usages = ["Training", "PublicTest", "PrivateTest"]
    for i, (img, label) in enumerate(zip(x, y)):
        lines.append(f"{label * 3},{' '.join(map(str, img.ravel()))},{usages[i % 3]}")
    path = tmp_path / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    ds = load_csv(path)
    assert ds.class_names[0] == "angry" and len(ds.class_names) == 7
    assert sorted(ds.splits) == sorted(usages)
    first = ds.split("Training")
    assert np.array_equal(first.image(0), x[0])
    assert first.labels[0] == y[0] * 3


def test_csv_bad_row_is_reported_with_row_number(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("emotion,pixels,Usage\n0,1 2 3,Training\n")
    with pytest.raises(DatasetError, match="row 2"):
        load_csv(path)


def test_flat_folder_with_synonyms(tmp_path):
    root = write_folder(tmp_path / "flat", n_per_class=3, class_dirs=["Anger", "happiness", "Sadness"], ext=".jpg")
    ds = load_folder(root)
    assert ds.class_names == ["angry", "happy", "sad"]
    split = ds.split(None)
    assert len(split) == 9
    assert split.image(0).shape[2] == 3  # files decode to RGB


def test_split_folders(tmp_path):
    root = write_folder(tmp_path / "tree", n_per_class=2, splits=("train", "test"), ext=".webp")
    ds = load_dataset(root)
    assert set(ds.splits) == {"train", "test"}
    assert len(ds.split("Training")) == 6  # alias train -> Training matches the folder name
    assert len(ds.split("PrivateTest")) == 6


def test_folder_given_class_order_skips_unknown(tmp_path):
    root = write_folder(tmp_path / "f", n_per_class=2, class_dirs=["happy", "sad", "scream"])
    ds = load_folder(root, class_names=["sad", "happy"])
    assert ds.class_names == ["sad", "happy"]
    assert len(ds.split(None)) == 4


def test_missing_and_wrong_paths(tmp_path):
    with pytest.raises(DatasetError, match="no such"):
        load_dataset(tmp_path / "nope.npz")
    (tmp_path / "x.txt").write_text("hello")
    with pytest.raises(DatasetError, match="not a dataset"):
        load_dataset(tmp_path / "x.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError):
        load_dataset(tmp_path / "empty")
    (tmp_path / "broken.npz").write_bytes(b"not a zip")
    with pytest.raises(DatasetError):
        load_dataset(tmp_path / "broken.npz")


def test_real_fer2013_counts():
    need_shared(FER_NPZ)
    ds = load_dataset(FER_NPZ)
    counts = ds.counts()
    assert sum(counts["Training"].values()) == 28709
    assert counts["PrivateTest"]["disgust"] == 55
    assert ds.class_names == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
