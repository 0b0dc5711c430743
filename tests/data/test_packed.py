from __future__ import annotations

import numpy as np
import pytest

from fer_core.data.datasets import load_dataset, load_npz
from fer_core.data.packed import decode_images, encode_images, is_packed, main, pack_npz, share_headers
from fer_core.errors import DatasetError
from tests.conftest import FER_NPZ, need_shared
from tests.helpers import CLASSES, write_npz


def test_a_packed_file_reads_like_the_plain_one(tmp_path):
    plain = load_npz(write_npz(tmp_path / "d.npz", n_per_class=6))
    packed_path = pack_npz(tmp_path / "d.npz", tmp_path / "packed.npz", quality=95,
                           split_quality={"Training": 60})
    with np.load(packed_path) as data:
        assert is_packed(data.files) and "images" not in data.files
    packed = load_npz(packed_path)
    assert packed.class_names == plain.class_names == CLASSES
    assert set(packed.splits) == set(plain.splits)
    for name in plain.splits:
        a, b = plain.splits[name], packed.splits[name]
        assert np.array_equal(a.labels, b.labels) and np.array_equal(a.rows, b.rows)
        assert b.array.shape == a.array.shape and b.array.dtype == np.uint8
        err = np.abs(a.array.astype(int) - b.array.astype(int)).mean()
        assert err < (12 if name == "Training" else 4), (name, err)  # JPEG error, lower quality on Training


def test_split_quality_changes_only_its_split(tmp_path):
    src = write_npz(tmp_path / "d.npz", n_per_class=6)
    high = load_npz(pack_npz(src, tmp_path / "high.npz", quality=95))
    mixed = load_npz(pack_npz(src, tmp_path / "mixed.npz", quality=95, split_quality={"Training": 40}))
    assert np.array_equal(high.split("PublicTest").array, mixed.split("PublicTest").array)
    assert not np.array_equal(high.split("Training").array, mixed.split("Training").array)


def test_damaged_or_wrong_packs_are_one_line_errors(tmp_path):
    src = write_npz(tmp_path / "d.npz", n_per_class=3)
    with pytest.raises(DatasetError, match="no split named 'Train'"):
        pack_npz(src, tmp_path / "p.npz", split_quality={"Train": 90})
    with pytest.raises(DatasetError, match="an .npz file"):
        pack_npz(src, tmp_path / "p.zip")
    good = pack_npz(src, tmp_path / "p.npz")
    with np.load(good) as data:
        arrays = {k: data[k] for k in data.files}
    bytes_cut = dict(arrays, jpeg=arrays["jpeg"][:-10])
    np.savez(tmp_path / "cut.npz", **bytes_cut)
    with pytest.raises(DatasetError, match="offsets do not match"):
        load_npz(tmp_path / "cut.npz")
    garbled = dict(arrays, heads=np.full_like(arrays["heads"], 7))
    np.savez(tmp_path / "garbled.npz", **garbled)
    with pytest.raises(DatasetError, match="packed image 0 is not a 48x48 JPEG"):
        load_npz(tmp_path / "garbled.npz")
    wrong_index = dict(arrays, head_index=np.full_like(arrays["head_index"], 9))
    np.savez(tmp_path / "index.npz", **wrong_index)
    with pytest.raises(DatasetError, match="header index does not match"):
        load_npz(tmp_path / "index.npz")
    no_offsets = {k: v for k, v in arrays.items() if k != "head_offsets"}
    np.savez(tmp_path / "partial.npz", **no_offsets)
    with pytest.raises(DatasetError, match="without head_offsets"):
        load_npz(tmp_path / "partial.npz")


def test_headers_are_kept_once_and_files_of_whole_jpegs_still_read(tmp_path):
    src = write_npz(tmp_path / "d.npz", n_per_class=6)
    plain = load_npz(src)
    mixed = pack_npz(src, tmp_path / "mixed.npz", quality=95, split_quality={"Training": 60})
    with np.load(mixed) as data:
        arrays = {k: data[k] for k in data.files}
    assert len(arrays["head_offsets"]) == 3  # one header for each of the two qualities
    with np.load(pack_npz(src, tmp_path / "one.npz", quality=95)) as data:
        one = {k: data[k] for k in data.files}
    whole, _ = encode_images(np.load(src)["images"], 95)
    n, head = len(one["head_index"]), len(one["heads"])
    assert len(one["head_offsets"]) == 2 and head > 300  # one header, kept once
    assert one["jpeg"].nbytes == whole.nbytes - n * (head + 2)  # each image lost its header and end marker
    # the older layout (whole JPEGs, no heads) reads to the same pixels as the shared-header one
    full, offsets = encode_images(plain.split("PublicTest").array, 95)
    shared = share_headers(full, offsets)
    old = {"jpeg": full, "offsets": offsets, "shape": np.array([48, 48])}
    assert np.array_equal(decode_images(old, "old"), decode_images({**shared, "shape": old["shape"]}, "new"))


def test_the_command_line_packs_and_copies_the_votes(tmp_path, capsys):
    src_dir = tmp_path / "data" / "fer2013"
    src_dir.mkdir(parents=True)
    src = write_npz(src_dir / "fer2013.npz", n_per_class=3)
    votes_dir = tmp_path / "data" / "ferplus"
    votes_dir.mkdir()
    (votes_dir / "ferplus_votes.npz").write_bytes(b"votes")
    out = tmp_path / "carry"
    assert main([str(src), str(out), "--training-quality", "90"]) == 0
    assert load_npz(out / "data" / "fer2013" / "fer2013.npz").counts() == load_npz(src).counts()
    assert (out / "data" / "ferplus" / "ferplus_votes.npz").read_bytes() == b"votes"
    assert "MiB" in capsys.readouterr().out
    assert main([str(tmp_path / "missing.npz"), str(out)]) == 2
    assert "missing.npz" in capsys.readouterr().err


def test_real_fer2013_packs_small_and_keeps_the_ferplus_labels(tmp_path):
    need_shared(FER_NPZ)
    assert main([str(FER_NPZ), str(tmp_path), "--training-quality", "70", "--quality", "85"]) == 0  # gpu/prepare.sh's
    packed = tmp_path / "data" / "fer2013" / "fer2013.npz"
    assert packed.stat().st_size < 21 * 2**20  # beside a 22 MiB working tree, under the 64 MiB a GPU call carries
    plain, small = load_dataset(FER_NPZ, labels="ferplus"), load_dataset(packed, labels="ferplus")
    assert small.counts() == plain.counts()
    a, b = plain.split("PrivateTest").array, small.split("PrivateTest").array
    assert np.abs(a.astype(int) - b.astype(int)).mean() < 4  # quality 85: about 3 grey levels, milder than augmentation
    # at the default test quality (95) the pixels come back as they were (the images were JPEGs once)
    assert main([str(FER_NPZ), str(tmp_path / "q95"), "--training-quality", "70"]) == 0
    q95 = load_dataset(tmp_path / "q95" / "data" / "fer2013" / "fer2013.npz", labels="ferplus")
    exact = q95.split("PrivateTest").array
    assert np.abs(a.astype(int) - exact.astype(int)).mean() < 0.2
