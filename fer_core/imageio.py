"""Safe image decoding: pixel limits before decoding, EXIF rotation, every mode to 8-bit RGB.

Why: uploads come from strangers. A header that claims 50000x50000 pixels must be refused
before the pixels are decoded, and an odd mode (16-bit, CMYK, palette, RGBA, animated GIF)
must become the plain RGB array the pipeline expects, or a one-line ``ImageError``.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from fer_core.errors import ImageError
from fer_core.settings import get_settings

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
MIN_SIDE = 8


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    """Convert any PIL mode to an ``(H, W, 3)`` uint8 RGB array."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = np.zeros_like(arr) if hi <= lo else (arr - lo) * (255.0 / (hi - lo))
        gray = np.clip(scaled + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))


def decode_image(data: bytes, name: str = "image", max_pixels: int | None = None) -> np.ndarray:
    """Decode image bytes to RGB uint8, honouring EXIF orientation; raise ``ImageError``."""
    limit = max_pixels if max_pixels is not None else get_settings().max_pixels
    if not data:
        raise ImageError(f"{name}: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            width, height = img.size
            if width * height > limit:
                raise ImageError(
                    f"{name}: {width}x{height} pixels is more than the limit of {limit:,} pixels"
                )
            if min(width, height) < 1:
                raise ImageError(f"{name}: the image has no pixels")
            img.seek(0)  # first frame of an animation
            img.load()
            try:
                img = ImageOps.exif_transpose(img) or img
            except Exception as exc:  # a corrupt EXIF block must not lose the picture
                log.info("%s: EXIF orientation ignored (%s)", name, exc)
            return _to_rgb_array(img)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a readable image (jpg, png, webp, bmp or gif)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: too many pixels (decompression bomb refused)") from None
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise ImageError(f"{name}: the image is damaged or truncated ({_short(exc)})") from None


def read_image(path: str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Read an image file as RGB uint8; raise ``ImageError`` with a one-line reason."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise ImageError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{p}: is a folder, not an image") from None
    except OSError as exc:
        raise ImageError(f"{p}: cannot be read ({_short(exc)})") from None
    return decode_image(data, name=str(p), max_pixels=max_pixels)


def to_gray(image: np.ndarray) -> np.ndarray:
    """RGB (or already gray) uint8 to a 2-D gray array."""
    if image.ndim == 2:
        return image
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(image[:, :, :3]), cv2.COLOR_RGB2GRAY)


def ensure_rgb(image: np.ndarray) -> np.ndarray:
    """Gray or RGB(A) uint8 array to contiguous RGB; raise ``ImageError`` on anything else."""
    if not isinstance(image, np.ndarray):
        raise ImageError("input is not an image array")
    if image.dtype != np.uint8:
        if image.dtype.kind == "f" and image.size and float(np.nanmax(image)) <= 1.0:
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
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:160]
