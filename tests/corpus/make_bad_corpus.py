"""Generate a corpus of hostile, odd and good image files, each with what must happen to it.

``python tests/corpus/make_bad_corpus.py [OUT_DIR]`` writes it (default ``tests/corpus/bad/``,
gitignored); the tests call ``make_corpus(tmp_dir)``. Every case is made here from code
(astronaut from scikit-image for the real face), so nothing is downloaded or checked in.

A case expects ``ok`` (decodes to an RGB uint8 array of ``shape``; ``faces`` = minimum number
of faces the pipeline must find) or ``error`` (a one-line ``ImageError`` containing ``message``).
"""

from __future__ import annotations

import functools
import io
import json
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

DEFAULT_OUT = Path(__file__).resolve().parent / "bad"


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what decoding it must give."""

    name: str  # file name inside the corpus folder (may hold odd characters)
    expect: str  # "ok" or "error"
    note: str
    shape: tuple[int, int] | None = None  # (height, width) after decoding and EXIF rotation
    message: str = ""  # substring of the error message (lower case)
    faces: int = 0  # at least this many faces found by the pipeline
    is_dir: bool = False

    def path(self, root: Path) -> Path:
        return Path(root) / self.name


# ---------------------------------------------------------------- byte makers
def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    """A PNG chunk with a correct CRC."""
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width x height`` RGB pixels, with a tiny IDAT (a pixel bomb)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 4096, 9)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """Patch the SOF0/SOF2 header of ``jpeg`` to claim another size."""
    data = bytearray(jpeg)
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            struct.pack_into(">HH", data, at + 5, height, width)
            return bytes(data)
    raise ValueError("no SOF marker")


def _insert_after_soi(jpeg: bytes, segment: bytes) -> bytes:
    assert jpeg[:2] == b"\xff\xd8"
    return jpeg[:2] + segment + jpeg[2:]


def _corrupt_exif_segment() -> bytes:
    """An APP1 Exif segment whose TIFF structure points far outside itself."""
    body = b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 0xFFFF)
    body += struct.pack("<HHII", 0x0112, 3, 1, 0x7FFFFFFF) + b"\xde\xad\xbe\xef" * 8
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def _marked(width: int, height: int) -> Image.Image:
    """A grey image with a red top-left quadrant, to see where rotation put it."""
    arr = np.full((height, width, 3), 200, np.uint8)
    arr[: height // 2, : width // 2] = (220, 20, 20)
    return Image.fromarray(arr)


def _exif_jpeg(orientation: int, width: int = 60, height: int = 40) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode(_marked(width, height), "JPEG", quality=95, exif=exif.tobytes())


def _bmp_header_only(width: int, height: int) -> bytes:
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    pixels = b"\x00" * 64
    header = b"BM" + struct.pack("<IHHI", 14 + len(info) + len(pixels), 0, 0, 14 + len(info))
    return header + info + pixels


def _gif_with_screen(gif: bytes, width: int, height: int) -> bytes:
    data = bytearray(gif)
    struct.pack_into("<HH", data, 6, width, height)
    return bytes(data)


def _npy_bytes() -> bytes:
    arr = np.full((48, 48), np.nan, np.float32)
    arr[10:20] = np.inf
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _zip_bytes(inner: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("face.jpg", inner)
    return buf.getvalue()


# ---------------------------------------------------------------- the corpus
def make_corpus(out_dir: str | Path) -> list[Case]:
    """Write every case into ``out_dir`` (created) and return the cases."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for case, payload in corpus_cases():
        target = case.path(out)
        if case.is_dir:
            target.mkdir(exist_ok=True)
        else:
            target.write_bytes(payload or b"")
    return [c for c, _ in corpus_cases()]


@functools.lru_cache(maxsize=1)
def corpus_cases() -> tuple[tuple[Case, bytes | None], ...]:
    """Every case with its file content (``None`` for a folder), made in memory."""
    from skimage import data as skdata

    astro = Image.fromarray(np.ascontiguousarray(skdata.astronaut()))  # 512x512 RGB, one face
    astro_jpg = _encode(astro, "JPEG", quality=90)
    astro_png = _encode(astro, "PNG")
    small = astro.resize((128, 128))
    small_jpg = _encode(small, "JPEG", quality=85)
    small_png = _encode(small, "PNG")
    rng = np.random.default_rng(7)
    gif_frames = [Image.new("RGB", (40, 30), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    gif = _encode(gif_frames[0], "GIF", save_all=True, append_images=gif_frames[1:], duration=100, loop=0)
    palette = Image.new("P", (32, 32), 0)
    palette.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    palette.paste(1, (8, 8, 24, 24))
    stripes = np.zeros((300, 6000, 3), np.uint8)
    stripes[:, ::50] = 255

    cases: list[tuple[Case, bytes | None]] = [
        # ---- real photos: correct results
        (Case("astronaut.jpg", "ok", "a real face photo (JPEG)", (512, 512), faces=1), astro_jpg),
        (Case("astronaut.png", "ok", "a real face photo (PNG)", (512, 512), faces=1), astro_png),
        (Case("astronaut.webp", "ok", "a real face photo (WebP)", (512, 512), faces=1),
         _encode(astro, "WEBP", quality=90)),
        (Case("astronaut_progressive.jpg", "ok", "progressive JPEG", (512, 512), faces=1),
         _encode(astro, "JPEG", quality=85, progressive=True)),
        (Case("ASTRONAUT.JPG", "ok", "upper-case extension", (128, 128)), small_jpg),
        (Case("png_named.jpg", "ok", "a PNG with a .jpg name (content decides)", (128, 128)), small_png),
        # ---- empty, truncated, not images
        (Case("zero_bytes.jpg", "error", "zero-byte file", message="empty"), b""),
        (Case("truncated.jpg", "error", "JPEG cut in half", message="truncated"), astro_jpg[: len(astro_jpg) // 2]),
        (Case("truncated.png", "error", "PNG cut in half", message="truncated"), astro_png[: len(astro_png) // 2]),
        (Case("soi_eoi_only.jpg", "error", "JPEG markers and nothing else"), b"\xff\xd8\xff\xd9"),
        (Case("text.jpg", "error", "a text file named .jpg", message="text file"),
         b"hello, this is not a picture\n" * 20),
        (Case("page.png", "error", "an HTML page named .png", message="html"),
         b"<!DOCTYPE html><html><body><img src=x onerror=alert(1)></body></html>"),
        (Case("drawing.svg", "error", "an SVG drawing", message="svg"),
         b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
         b'<script>alert(1)</script></svg>'),
        (Case("data.json", "error", "a JSON file", message="json"), json.dumps({"image": [1, 2, 3]}).encode()),
        (Case("photos.zip", "error", "a ZIP archive holding a JPEG", message="zip"), _zip_bytes(small_jpg)),
        (Case("random.jpg", "error", "random bytes", message="not a readable image"),
         rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        (Case("array.png", "error", "a NaN/inf float .npy renamed .png", message="numpy"), _npy_bytes()),
        (Case("tiff_named.jpg", "error", "a TIFF renamed .jpg (format not accepted)", message="tiff"),
         _encode(small, "TIFF")),
        (Case("icon.ico", "error", "a Windows icon (format not accepted)", message="icon"),
         _encode(small, "ICO", sizes=[(32, 32)])),
        # ---- pixel bombs: refused from the header, before decoding
        (Case("bomb_50000x50000.png", "error", "PNG header claims 50000x50000 (tiny IDAT)", message="pixels"),
         _png_header_only(50000, 50000)),
        (Case("bomb_8000x8000.png", "error", "PNG header claims 64 MP (over max_pixels, under Pillow's guard)",
              message="limit"), _png_header_only(8000, 8000)),
        (Case("huge_header.jpg", "error", "JPEG SOF claims 60000x60000", message="pixels"),
         _jpeg_with_size(small_jpg, 60000, 60000)),
        (Case("huge_header.bmp", "error", "BMP header claims 100000x100000", message="pixels"),
         _bmp_header_only(100000, 100000)),
        (Case("huge_screen.gif", "error", "GIF logical screen 65535x65535", message="pixels"),
         _gif_with_screen(gif, 65535, 65535)),
        (Case("ztxt_bomb.png", "error", "PNG with an 8 MB compressed text chunk", message="too large"),
         small_png[:33] + _chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"\0" * (8 << 20), 9))
         + small_png[33:]),
        # ---- damaged but still decodable / damaged header
        (Case("garbage_appended.jpg", "ok", "JPEG followed by 64 KB of garbage", (128, 128)),
         small_jpg + rng.integers(0, 256, 65536, dtype=np.uint8).tobytes()),
        (Case("bad_crc_header.png", "error", "PNG whose IHDR CRC is wrong", message="not a readable image"),
         small_png[:29] + bytes([small_png[29] ^ 0xFF]) + small_png[30:]),
        (Case("bad_crc_idat.png", "ok", "PNG whose IDAT CRC is wrong (pixels intact)", (128, 128)),
         _flip_idat_crc(small_png)),
        # ---- modes and formats that must become plain RGB
        (Case("gray16.png", "ok", "16-bit grayscale PNG", (40, 50)),
         _encode(Image.fromarray(np.arange(2000, dtype=np.uint16).reshape(40, 50) * 30), "PNG")),
        (Case("rgb48.png", "ok", "16-bit-per-channel RGB PNG", (30, 20)), _png48(30, 20)),
        (Case("cmyk.jpg", "ok", "CMYK JPEG", (40, 60)), _encode(Image.new("CMYK", (60, 40), (0, 128, 255, 0)), "JPEG")),
        (Case("rgba.png", "ok", "RGBA PNG (composited on white)", (32, 48)),
         _encode(Image.new("RGBA", (48, 32), (255, 0, 0, 0)), "PNG")),
        (Case("gray_alpha.png", "ok", "gray + alpha PNG", (32, 32)),
         _encode(Image.new("LA", (32, 32), (90, 128)), "PNG")),
        (Case("gray.jpg", "ok", "grayscale JPEG", (128, 128)), _encode(small.convert("L"), "JPEG")),
        (Case("bilevel.png", "ok", "1-bit PNG", (32, 32)), _encode(Image.new("1", (32, 32), 1), "PNG")),
        (Case("palette_transparent.png", "ok", "palette PNG with a transparent index", (32, 32)),
         _encode(palette, "PNG", transparency=0)),
        (Case("animated.gif", "ok", "animated GIF (first frame used)", (30, 40)), gif),
        (Case("animated.webp", "ok", "animated WebP (first frame used)", (30, 40)),
         _encode(gif_frames[0], "WEBP", save_all=True, append_images=gif_frames[1:], duration=100)),
        (Case("image.bmp", "ok", "BMP", (128, 128)), _encode(small, "BMP")),
        (Case("lossless.webp", "ok", "lossless WebP", (128, 128)), _encode(small, "WEBP", lossless=True)),
        # ---- odd geometry
        (Case("one_pixel.png", "ok", "1x1 image", (1, 1)), _encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG")),
        (Case("panorama.jpg", "ok", "very wide panorama 6000x300", (300, 6000)),
         _encode(Image.fromarray(stripes), "JPEG", quality=80)),
        (Case("strip_10000x2.png", "ok", "a 10000-wide, 2-high strip", (2, 10000)),
         _encode(Image.new("RGB", (10000, 2), (50, 60, 70)), "PNG")),
        (Case("strip_2x10000.png", "ok", "a 2-wide, 10000-high strip", (10000, 2)),
         _encode(Image.new("RGB", (2, 10000), (50, 60, 70)), "PNG")),
        # ---- EXIF
        (Case("exif_orientation6.jpg", "ok", "EXIF orientation 6: stored 60x40, shown 40x60", (60, 40)),
         _exif_jpeg(6)),
        (Case("exif_orientation3.jpg", "ok", "EXIF orientation 3: upside down", (40, 60)), _exif_jpeg(3)),
        (Case("exif_corrupt.jpg", "ok", "JPEG with a corrupt EXIF block (picture kept)", (128, 128)),
         _insert_after_soi(small_jpg, _corrupt_exif_segment())),
        # ---- hostile names (legal file names with odd characters)
        (Case("..%2f..%2fetc%2fpasswd.jpg", "ok", "path-like name", (128, 128)), small_jpg),
        (Case("evil\nname\r.jpg", "error", "newline in the name and not an image", message="not"), b"nope"),
        (Case("\x1b[31mred\x1b[0m.png", "error", "terminal escape codes in the name", message="empty"), b""),
        (Case("фото 😀 (1).png", "ok", "unicode and spaces in the name", (128, 128)), small_png),
        (Case("x" * 200 + ".png", "ok", "a 204-character name", (128, 128)), small_png),
        (Case("folder.jpg", "error", "a folder named like an image", message="folder", is_dir=True), None),
    ]
    names = [c.name for c, _ in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    return tuple(cases)


def _flip_idat_crc(png: bytes) -> bytes:
    data = bytearray(png)
    at = data.find(b"IDAT")
    length = struct.unpack(">I", data[at - 4:at])[0]
    data[at + 4 + length] ^= 0xFF
    return bytes(data)


def _png48(height: int, width: int) -> bytes:
    import cv2

    arr = np.zeros((height, width, 3), np.uint16)
    arr[..., 0] = 65535
    arr[: height // 2, :, 2] = 30000
    ok, buf = cv2.imencode(".png", arr)
    assert ok
    return buf.tobytes()


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    cases = make_corpus(out)
    for c in cases:
        print(f"{c.expect:5}  {c.name!r:40}  {c.note}")
    print(f"{len(cases)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
