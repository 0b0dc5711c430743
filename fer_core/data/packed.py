"""FER2013 packed as JPEG bytes: the ``.npz`` layout small enough to carry to a lent GPU machine.

Why: a GPU machine gets the working tree and at most 64 MiB with it. FER2013's raw pixels are 83 MB
(76 MiB as the shared ``.npz``); its images were decoded from the Kaggle release's JPEGs, so encoding
them again at quality 95 gives back the same pixels within 0.05 grey levels on average, at a fifth of
the size. ``load_npz`` reads a packed file like the plain one (same arrays, ``images`` decoded on load).

Layout: ``jpeg`` (all files' bytes, one ``uint8`` run), ``offsets`` (``N + 1`` int64: image ``i`` is
``jpeg[offsets[i]:offsets[i + 1]]``), ``shape`` (height, width), and the plain file's ``labels``,
``usage``, ``usage_names`` and ``class_names``.

Shared headers: a 48x48 JPEG is 330 bytes of header (quantisation and Huffman tables, the same for
every image of one quality) and 300-900 of image data. Written files keep each distinct header once,
in ``heads`` (bytes) with ``head_offsets`` (``H + 1`` int64), and per image ``head_index``; ``jpeg``
then holds only what follows the header, without the end marker, and a file is put back together as
header + data + end marker before decoding. That takes a third off the file. Files without ``heads``
hold whole JPEGs and read as before.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from fer_core import cli
from fer_core.data.ferplus import votes_path_beside
from fer_core.errors import DatasetError

PACKED_KEYS: frozenset[str] = frozenset({"jpeg", "offsets", "shape"})
_KEPT = ("labels", "usage", "usage_names", "class_names")
_EOI = np.frombuffer(b"\xff\xd9", np.uint8)


def is_packed(files: list[str]) -> bool:
    """Whether an ``.npz``'s array names are the packed layout's."""
    return PACKED_KEYS <= set(files)


def encode_images(images: np.ndarray, quality: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gray ``(N, H, W)`` uint8 images to JPEG bytes and offsets (``quality`` one number or one per image)."""
    qualities = np.broadcast_to(np.asarray(quality, dtype=np.int64), (len(images),))
    chunks, offsets = [], [0]
    for image, q in zip(images, qualities, strict=True):
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image), [cv2.IMWRITE_JPEG_QUALITY, int(q)])
        if not ok:
            raise DatasetError("an image could not be JPEG-encoded")
        chunks.append(buf.ravel())
        offsets.append(offsets[-1] + len(buf))
    return np.concatenate(chunks).astype(np.uint8), np.asarray(offsets, dtype=np.int64)


def header_length(jpeg: np.ndarray) -> int:
    """Bytes of a JPEG before its image data: everything up to the end of the start-of-scan segment."""
    raw = jpeg.tobytes()
    sos = raw.find(b"\xff\xda")
    if sos < 0 or sos + 4 > len(raw):
        raise DatasetError("an encoded image has no start-of-scan marker")
    return sos + 2 + int.from_bytes(raw[sos + 2:sos + 4], "big")


def share_headers(blob: np.ndarray, offsets: np.ndarray) -> dict[str, np.ndarray]:
    """Whole JPEGs (``encode_images``' output) as the shared-header arrays of the layout above."""
    heads: dict[bytes, int] = {}
    index = np.empty(len(offsets) - 1, np.int64)
    scans, scan_offsets = [], [0]
    for i in range(len(index)):
        jpeg = blob[offsets[i]:offsets[i + 1]]
        cut = header_length(jpeg)
        index[i] = heads.setdefault(jpeg[:cut].tobytes(), len(heads))
        scans.append(jpeg[cut:-2] if jpeg[-2:].tobytes() == _EOI.tobytes() else jpeg[cut:])
        scan_offsets.append(scan_offsets[-1] + len(scans[-1]))
    head_bytes = list(heads)
    return {"jpeg": np.concatenate(scans).astype(np.uint8), "offsets": np.asarray(scan_offsets, np.int64),
            "heads": np.frombuffer(b"".join(head_bytes), np.uint8),
            "head_offsets": np.cumsum([0] + [len(h) for h in head_bytes]).astype(np.int64),
            "head_index": index.astype(np.uint8 if len(heads) < 256 else np.int64)}


def _checked_offsets(offsets: np.ndarray, size: int, what: str, source: str | Path) -> np.ndarray:
    if offsets.ndim != 1 or len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != size \
            or (np.diff(offsets) <= 0).any():
        raise DatasetError(f"{source}: packed {what} offsets do not match its bytes")
    return offsets


def _image_headers(data: Mapping[str, np.ndarray], n: int, source: str | Path) -> list[np.ndarray] | None:
    """Each image's header (shared-header files), or None for files of whole JPEGs."""
    if "heads" not in data:
        return None
    if "head_offsets" not in data or "head_index" not in data:
        raise DatasetError(f"{source}: packed headers come without head_offsets and head_index")
    heads = np.asarray(data["heads"], dtype=np.uint8)
    bounds = _checked_offsets(np.asarray(data["head_offsets"], dtype=np.int64), len(heads), "header", source)
    index = np.asarray(data["head_index"]).astype(np.int64)
    if index.shape != (n,) or (n and (index.min() < 0 or index.max() >= len(bounds) - 1)):
        raise DatasetError(f"{source}: packed header index does not match its images")
    pieces = [heads[bounds[k]:bounds[k + 1]] for k in range(len(bounds) - 1)]
    return [pieces[k] for k in index]


def decode_images(data: Mapping[str, np.ndarray], source: str | Path) -> np.ndarray:
    """The ``(N, H, W)`` uint8 images of a packed file; a damaged one is a one-line ``DatasetError``."""
    blob = np.asarray(data["jpeg"], dtype=np.uint8)
    offsets = _checked_offsets(np.asarray(data["offsets"], dtype=np.int64), len(blob), "image", source)
    h, w = (int(v) for v in np.asarray(data["shape"]).ravel()[:2])
    heads = _image_headers(data, len(offsets) - 1, source)
    out = np.empty((len(offsets) - 1, h, w), np.uint8)
    for i in range(len(out)):
        jpeg = blob[offsets[i]:offsets[i + 1]]
        if heads is not None:
            jpeg = np.concatenate([heads[i], jpeg, _EOI])
        image = cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
        if image is None or image.shape != (h, w):
            raise DatasetError(f"{source}: packed image {i} is not a {w}x{h} JPEG")
        out[i] = image
    return out


def pack_npz(src: str | Path, dst: str | Path, quality: int = 95,
             split_quality: Mapping[str, int] | None = None) -> Path:
    """Write FER2013's ``.npz`` at ``src`` as a packed file at ``dst``.

    ``split_quality`` sets another JPEG quality for named splits: the command line packs the training
    split at 85 so that the whole set fits beside the working tree; its JPEG error (about 3 grey levels
    on average) is milder than the training augmentation, and the test splits stay at 95.
    """
    src, dst = Path(src), Path(dst)
    if dst.suffix != ".npz":
        raise DatasetError(f"{dst}: a packed dataset is an .npz file")
    if not src.is_file():
        raise DatasetError(f"{src}: no such dataset file")
    with np.load(src, allow_pickle=False) as data:
        if "images" not in data.files:
            raise DatasetError(f"{src}: no 'images' array to pack")
        images = np.asarray(data["images"], dtype=np.uint8)
        kept = {k: data[k] for k in _KEPT if k in data.files}
    if images.ndim != 3:
        raise DatasetError(f"{src}: images must be gray (N, H, W), not {images.shape}")
    quality_of = np.full(len(images), quality, dtype=np.int64)
    if split_quality and "usage" in kept and "usage_names" in kept:
        names = [str(n) for n in kept["usage_names"]]
        for split, q in split_quality.items():
            if split not in names:
                raise DatasetError(f"{src}: no split named {split!r} (it has {', '.join(names)})")
            quality_of[np.asarray(kept["usage"]) == names.index(split)] = q
    blob, offsets = encode_images(images, quality_of)
    dst.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {**share_headers(blob, offsets), "shape": np.asarray(images.shape[1:3], np.int64), **kept}
    np.savez(dst, **arrays)
    return dst


def pack_shared_layout(src: Path, out: Path, quality: int, training_quality: int) -> list[Path]:
    """FER2013 packed into ``out/data/fer2013/`` and its FER+ votes (when beside it) copied to
    ``out/data/ferplus/``: the shared layout, so ``--labels ferplus`` finds them there too."""
    packed = pack_npz(src, out / "data" / "fer2013" / "fer2013.npz", quality, {"Training": training_quality})
    written = [packed]
    votes = votes_path_beside(src)
    if votes.is_file():
        dst = out / "data" / "ferplus" / votes.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(votes, dst)
        written.append(dst)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m fer_core.data.packed FER2013.npz OUT``: the carry-sized copy for a GPU machine."""
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.data.packed"), description=main.__doc__)
    p.add_argument("src", help="FER2013's .npz (the shared layout: its FER+ votes are copied when beside it)")
    p.add_argument("out", help="folder to write data/fer2013/fer2013.npz (and data/ferplus/) under")
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of the test splits (default 95)")
    p.add_argument("--training-quality", type=int, default=85, help="JPEG quality of the Training split")
    args = p.parse_args(argv)
    try:
        written = pack_shared_layout(Path(args.src), Path(args.out), args.quality, args.training_quality)
    except (DatasetError, OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"{path}  {path.stat().st_size / 2**20:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["PACKED_KEYS", "decode_images", "encode_images", "header_length", "is_packed", "main", "pack_npz",
           "pack_shared_layout", "share_headers"]
