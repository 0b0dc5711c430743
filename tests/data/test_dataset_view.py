"""fer_core.data.dataset_view: counts, sizes and thumbnail pages of real generated datasets."""

from __future__ import annotations

import os
import time
from pathlib import Path

from fer_core.data.dataset_view import class_indices, dataset_stamp, image_sizes, page_count, summarize, thumbnails
from fer_core.data.datasets import load_dataset
from tests.helpers import write_folder, write_npz


def test_summary_of_split_folder(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "ds", n_per_class=5, splits=("train", "test"))
    s = summarize(load_dataset(root))
    assert s.kind == "folder" and s.class_names == ["angry", "happy", "sad"]
    assert s.totals == {"test": 15, "train": 15} and s.total == 30
    assert s.counts["train"] == {"angry": 5, "happy": 5, "sad": 5}
    assert s.sizes["train"] == [("48×48", 15)] and s.sampled["train"] == 15
    assert s.imbalance() == 1.0
    rows = s.counts_rows()
    assert {"split": "train", "class": "sad", "count": 5} in rows and len(rows) == 6


def test_summary_of_npz(tmp_path: Path) -> None:
    s = summarize(load_dataset(write_npz(tmp_path / "d.npz", n_per_class=6)))
    assert s.kind == "npz" and set(s.totals) == {"Training", "PublicTest", "PrivateTest"}
    assert s.total == 18 and s.sizes["Training"] == [("48×48", 6)]


def test_image_sizes_samples_folders_and_counts_unreadable(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "ds", n_per_class=4)
    (root / "happy" / "zz_bad.png").write_bytes(b"not a png")
    split = load_dataset(root).split(None)
    sizes, looked = image_sizes(split, sample=100)
    assert dict(sizes) == {"48×48": 12, "unreadable": 1} and looked == 13
    sizes, looked = image_sizes(split, sample=5)
    assert looked == 5 and sum(n for _, n in sizes) == 5


def test_thumbnail_pages(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "ds", n_per_class=7)
    (root / "sad" / "zz_bad.png").write_bytes(b"junk")
    ds = load_dataset(root)
    split = ds.split(None)
    sad = ds.class_names.index("sad")
    assert len(class_indices(split, sad)) == 8
    assert page_count(8, 3) == 3 and page_count(0, 3) == 1
    p1 = thumbnails(split, sad, page=1, per_page=3)
    p3 = thumbnails(split, sad, page=3, per_page=3)
    assert len(p1) == 3 and all(t.image is not None and t.image.shape[:2] == (48, 48) for t in p1)
    assert len(p3) == 2 and p3[-1].image is None and "zz_bad.png" in p3[-1].error
    assert thumbnails(split, sad, page=99, per_page=3)[0].index == p3[0].index  # clamped to the last page
    assert p1[0].caption.endswith(".png")


def test_stamp_changes_when_a_class_folder_changes(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "ds", n_per_class=2)
    before = dataset_stamp(root)
    later = time.time() + 5
    (root / "happy" / "new.png").write_bytes(b"x")
    os.utime(root / "happy", (later, later))
    assert dataset_stamp(root) > before
    npz = write_npz(tmp_path / "d.npz")
    assert dataset_stamp(npz) > 0 and dataset_stamp(tmp_path / "missing") == 0.0


def test_captions_fit_a_thumbnail_and_keep_names_apart(tmp_path: Path) -> None:
    """Long names are cut in the middle, never wrapped or cut to a shared prefix (issue 13)."""
    from fer_core.data.dataset_view import CAPTION_CHARS, short_name

    folder = tmp_path / "ds" / "happy"
    folder.mkdir(parents=True)
    from PIL import Image

    for i in (166, 167):
        Image.new("L", (48, 48), 128).save(folder / f"fer2013_training_happy_{i:05d}.png")
    Image.new("L", (48, 48), 128).save(tmp_path / "ds" / "happy" / "a.png")
    split = load_dataset(tmp_path / "ds").split(None)
    captions = [t.caption for t in thumbnails(split, 0, per_page=10)]
    assert all(len(c) <= CAPTION_CHARS for c in captions) and len(set(captions)) == 3
    assert "a.png" in captions and any(c.endswith("0167.png") for c in captions)
    assert short_name("20261126-004512-0001-abc123.jpg", 14) != short_name("20261126-004512-0002-def456.jpg", 14)
