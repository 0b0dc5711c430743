"""Safe image decoding: size and pixel limits before decoding, EXIF rotation, every mode to 8-bit RGB.

Why: uploads come from strangers. A header that claims 50000x50000 pixels must be refused
before the pixels are decoded, only the few formats the app needs are parsed at all (less
decoder code reachable by a hostile file), and an odd mode (16-bit, CMYK, palette, RGBA,
animated GIF) must become the plain RGB array the pipeline expects, or a one-line ``ImageError``.
"""

from __future__ import annotations

import io
import logging
import unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_core.errors import ImageError
from fer_core.paths import regular_file_size
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
# Pillow format names parsed at all (phone JPEGs that Pillow calls MPO come through "JPEG").
ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP", "BMP", "GIF")
ACCEPTED_TEXT = "jpg, png, webp, bmp or gif"
# Decompression-bomb guard, checked on the header before any pixel is decoded (about 7300x5500).
MAX_PIXELS = 40_000_000
# What an uploader offers: every format decoded above (GIF: its first frame). Image folders
# (datasets, captures) keep IMAGE_EXTENSIONS: an animated GIF is no training picture.
UPLOAD_EXTENSIONS: tuple[str, ...] = (*IMAGE_EXTENSIONS, ".gif")
MIN_SIDE = 8

# Magic bytes of common files that are not accepted images, for a clearer message.
_SIGNATURES: tuple[tuple[bytes, int, str], ...] = (
    (b"II*\x00", 0, "a TIFF image"),
    (b"MM\x00*", 0, "a TIFF image"),
    (b"%PDF", 0, "a PDF document"),
    (b"PK\x03\x04", 0, "a ZIP archive"),
    (b"\x93NUMPY", 0, "a NumPy array"),
    (b"\x00\x00\x01\x00", 0, "a Windows icon"),
    (b"8BPS", 0, "a Photoshop document"),
    (b"ftypheic", 4, "a HEIC photo"),
    (b"ftypheix", 4, "a HEIC photo"),
    (b"ftypmif1", 4, "a HEIF photo"),
    (b"ftypavif", 4, "an AVIF image"),
)


def display_name(name: object, limit: int = 120) -> str:
    """A file name fit for a one-line message: control characters escaped, length bounded."""
    text = str(name)
    out = []
    for ch in text:
        if ch in "\n\r\t" or unicodedata.category(ch)[0] == "C":
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    text = "".join(out)
    if len(text) > limit:
        keep = (limit - 1) // 2
        text = text[:keep] + "…" + text[-keep:]
    return text


def _sniff(data: bytes) -> str | None:
    """Name the kind of a non-image file from its first bytes (``None`` when unknown)."""
    for magic, offset, kind in _SIGNATURES:
        if data[offset:offset + len(magic)] == magic:
            return kind
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        return "an SVG drawing"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML page"
    if head.startswith((b"{", b"[")):
        return "a JSON or text file"
    if head and all(32 <= c < 127 or c in (9, 10, 13) for c in head[:256]):
        return "a text file"
    return None


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to an ``(H, W, 3)`` uint8 RGB array."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        return np.repeat(_stretch_to_uint8(np.asarray(img))[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode in ("P", "L", "RGB") and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def _stretch_to_uint8(arr: np.ndarray, rows: int = 256) -> np.ndarray:
    """A 16-bit, 32-bit or float picture stretched to 0..255, a band of ``rows`` at a time in float32.

    Why bands: converting the whole picture to float64 costs 8 bytes a pixel, several times over."""
    finite = arr if arr.dtype.kind != "f" else np.where(np.isfinite(arr), arr, 0)
    lo, hi = float(finite.min()), float(finite.max())
    gray = np.zeros(arr.shape[:2], np.uint8)
    if hi <= lo:
        return gray
    scale = np.float32(255.0 / (hi - lo))
    for top in range(0, arr.shape[0], rows):
        band = np.nan_to_num(finite[top:top + rows].astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        np.clip((band - np.float32(lo)) * scale + np.float32(0.5), 0, 255, out=band)
        gray[top:top + rows] = band
    return gray


def image_pixels(data: bytes) -> int:
    """Width times height from the header alone (no pixel decoded); 0 when it is not a readable image."""
    try:
        with Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS)) as img:
            width, height = img.size
    except Exception:  # noqa: BLE001 - decode_image gives the one-line reason later
        return 0
    return int(width) * int(height)


def decode_image(data: bytes, name: str = "image", max_pixels: int | None = None,
                 max_bytes: int | None = None) -> np.ndarray:
    """Decode image bytes to RGB uint8, honouring EXIF orientation; raise a one-line ``ImageError``.

    ``max_pixels`` (default ``MAX_PIXELS``) is checked on the header, before any pixel
    is decoded; ``max_bytes`` (default ``settings.max_upload_mb``) on the input size.
    """
    shown = display_name(name)
    settings = get_settings()
    limit = max_pixels if max_pixels is not None else MAX_PIXELS
    byte_limit = max_bytes if max_bytes is not None else settings.max_upload_mb * 2**20
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise ImageError(f"{shown}: not image data ({type(data).__name__})")
    if not data:
        raise ImageError(f"{shown}: the file is empty")
    if len(data) > byte_limit:
        raise ImageError(f"{shown}: {len(data) / 2**20:.1f} MB is more than the limit of "
                         f"{byte_limit / 2**20:.0f} MB")
    try:
        img = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
        width, height = img.size
        if width * height > limit:
            raise ImageError(f"{shown}: {width}x{height} pixels is more than the limit of {limit:,} pixels")
        if min(width, height) < 1:
            raise ImageError(f"{shown}: the image has no pixels")
        img.seek(0)  # first frame of an animation
        img.load()
        try:
            img = ImageOps.exif_transpose(img) or img  # type: ignore[assignment]
        except Exception as exc:  # noqa: BLE001 - a corrupt EXIF block must not lose the picture
            log.info("%s: EXIF orientation ignored (%s)", shown, _short(exc))
        return _to_rgb_array(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        kind = _sniff(data)
        what = f"{kind}, not an accepted image" if kind else "not a readable image"
        raise ImageError(f"{shown}: {what} ({ACCEPTED_TEXT})") from None
    except Image.DecompressionBombError:
        raise ImageError(f"{shown}: too many pixels (decompression bomb refused)") from None
    except MemoryError:
        raise ImageError(f"{shown}: too large to decode in the memory available") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"{shown}: the image is damaged or truncated ({_short(exc)})") from None
    except Exception as exc:  # a decoder bug on a hostile file must still be a one-line refusal
        log.warning("%s: unexpected %s while decoding", shown, type(exc).__name__, exc_info=True)
        raise ImageError(f"{shown}: the image could not be decoded ({type(exc).__name__})") from None


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as RGB uint8; raise ``ImageError`` with a one-line reason.

    Only regular files are read, and only up to ``settings.max_upload_mb`` (a device such as
    ``/dev/zero`` or a huge file is refused before reading).
    """
    p = Path(path)
    shown = display_name(p)
    byte_limit = get_settings().max_upload_mb * 2**20
    try:
        size = regular_file_size(p, shown, ImageError, "an image")
        if size > byte_limit:
            raise ImageError(f"{shown}: {size / 2**20:.1f} MB is more than the limit of "
                             f"{byte_limit / 2**20:.0f} MB")
        with p.open("rb") as fh:
            data = fh.read(byte_limit + 1)
    except ImageError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        reason = getattr(exc, "strerror", None) or _short(exc)
        raise ImageError(f"{shown}: cannot be read ({reason})") from None
    return decode_image(data, name=str(p), max_pixels=max_pixels, max_bytes=byte_limit)


def ensure_rgb(image: np.ndarray) -> np.ndarray:
    """Gray or RGB(A) uint8 array to contiguous RGB; raise ``ImageError`` on anything else."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"input is not an image array ({type(image).__name__})")
    if image.dtype.kind not in "biuf":
        raise ImageError(f"an image array must hold numbers, not {image.dtype}")
    if image.dtype != np.uint8:
        if image.dtype.kind == "f" and image.size and float(np.nanmax(image, initial=0.0)) <= 1.0:
            image = np.clip(np.nan_to_num(image) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            image = np.clip(np.nan_to_num(image.astype(np.float64)), 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = image[:, :, :3]
    elif not (image.ndim == 3 and image.shape[2] == 3):
        raise ImageError(f"an image must be HxW, HxWx3 or HxWx4, not {image.shape}")
    if min(image.shape[:2]) < 1:
        raise ImageError("the image has no pixels")
    return np.ascontiguousarray(image)


def _short(exc: BaseException) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return display_name(text, limit=160)
