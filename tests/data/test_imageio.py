"""fer_core.data.imageio: limits checked before decoding, names made safe for one-line messages,
arrays of any odd kind refused or converted."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fer_core.data.imageio import decode_image, display_name, ensure_rgb, read_image
from fer_core.errors import FerError, ImageError, one_line
from tests.corpus.make_bad_corpus import _png_header_only


def _png(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    return buf.getvalue()


def test_pixel_limit_is_checked_before_decoding():
    """The 8000x8000 header has only a few bytes of pixel data: had it been decoded, the error
    would be 'truncated'. It is the limit that speaks, so nothing was decoded."""
    bomb = _png_header_only(8000, 8000)
    with pytest.raises(ImageError, match="more than the limit of 40,000,000 pixels"):
        decode_image(bomb, "bomb.png")
    with pytest.raises(ImageError, match="truncated"):  # the same file under a higher limit is decoded
        decode_image(bomb, "bomb.png", max_pixels=100_000_000)


def test_pixel_limit_is_checked_on_the_header():
    data = _png(np.zeros((100, 100, 3), np.uint8))
    assert decode_image(data, "a.png").shape == (100, 100, 3)
    with pytest.raises(ImageError, match="100x100 pixels is more than the limit of 9,999 pixels"):
        decode_image(data, "a.png", max_pixels=9999)
    assert decode_image(data, "a.png", max_pixels=10_000).shape == (100, 100, 3)


def test_byte_limit_follows_the_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("FER_MAX_UPLOAD_MB", "1")
    big = b"\xff\xd8" + b"\0" * (2 * 2**20)
    with pytest.raises(ImageError, match="more than the limit of 1 MB"):
        decode_image(big, "big.jpg")
    (tmp_path / "big.jpg").write_bytes(big)
    with pytest.raises(ImageError, match="more than the limit of 1 MB"):
        read_image(tmp_path / "big.jpg")


def test_devices_and_missing_files_are_refused_without_reading(tmp_path: Path):
    if Path("/dev/zero").exists():  # endless: reading it would never finish
        with pytest.raises(ImageError, match="not a regular file"):
            read_image("/dev/zero")
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        read_image(tmp_path)
    with pytest.raises(ImageError, match=r"^bad\\x00name\.jpg: "):
        read_image("bad\x00name.jpg")
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    with pytest.raises(ImageError, match="not a regular file"):
        read_image(fifo)  # opening it would block until a writer came: the test would hang, not pass
    (tmp_path / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(ImageError, match="no such file"):
        read_image(tmp_path / "dangling.jpg")  # a broken link is a missing file, not a crash


NOBODY = 65534  # the conventional unprivileged uid and gid


def _read_as(uid: int | None, path: Path) -> str:
    """``read_image(path)``'s one-line refusal as text (``"read"`` when it read the file), run as ``uid``.

    Why a forked child: root reads a file whatever its mode, and CI runs as root; the child drops to
    ``uid`` for good before it reads, so the file is as unreadable to it as to any other user.
    """
    if uid is None:
        try:
            read_image(path)
        except ImageError as exc:
            return str(exc)
        return "read"
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges, try the read, report through the pipe, never return
        code = 0
        try:
            os.close(rfd)
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            try:
                read_image(path)
                text = "read"
            except ImageError as exc:
                text = str(exc)
            os.write(wfd, text.encode())
        except BaseException as exc:  # anything else: say what, so the test fails with a reason
            os.write(wfd, f"child failed: {exc!r}".encode())
            code = 1
        finally:
            os._exit(code)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as pipe:
        text = pipe.read().decode()
    os.waitpid(pid, 0)
    return text


def test_unreadable_file_gives_one_line(tmp_path_factory: pytest.TempPathFactory):
    """A file the server's user may not read: one line naming the file, whoever runs the tests."""
    import shutil
    import tempfile

    # pytest's tmp folders are private to their owner (0700): the unprivileged reader must be able to
    # reach the file, so that only the file's own mode stops it
    folder = Path(tempfile.mkdtemp(prefix="fer-unreadable-"))
    try:
        folder.chmod(0o755)
        f = folder / "locked.png"
        f.write_bytes(_png(np.zeros((10, 10, 3), np.uint8)))
        f.chmod(0o644)
        uid = NOBODY if os.geteuid() == 0 else None
        assert _read_as(uid, f) == "read", "the reader can read a readable file"
        f.chmod(0)
        message = _read_as(uid, f)
        assert message.startswith(f"{display_name(f)}: cannot be read (") and "\n" not in message, message
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_bytes_like_and_non_bytes_input():
    data = _png(np.full((12, 14, 3), 7, np.uint8))
    assert decode_image(bytearray(data)).shape == (12, 14, 3)
    assert decode_image(memoryview(data)).shape == (12, 14, 3)
    with pytest.raises(ImageError, match="not image data"):
        decode_image("a string", "x.png")  # type: ignore[arg-type]
    with pytest.raises(ImageError, match="not image data"):
        decode_image(None, "x.png")  # type: ignore[arg-type]


def test_display_name_escapes_and_bounds():
    assert display_name("photo.jpg") == "photo.jpg"
    assert display_name("a\nb\r\x1b[0m\t.png") == "a\\nb\\r\\x1b[0m\\t.png"
    assert display_name("фото 😀.png") == "фото 😀.png"
    long = display_name("x" * 1000 + ".png")
    assert len(long) <= 120 and long.endswith(".png") and "…" in long
    assert display_name("\u202egnp.exe") == "\\u202egnp.exe"  # right-to-left override shown, not obeyed


def test_fer_errors_are_always_one_line():
    err = ImageError("first line\nsecond\r\n\tthird \x07bell")
    assert str(err) == "first line second third bell"
    assert len(str(FerError("x" * 5000))) <= 500
    assert one_line("  a \n b  ") == "a b"


def test_rgba_is_composited_on_white_and_16_bit_is_scaled():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent
    out = decode_image(_png(rgba), "t.png")
    assert (out == 255).all()
    gray16 = np.array([[0, 65535]], np.uint16).repeat(4, axis=0).repeat(4, axis=1)
    buf = io.BytesIO()
    Image.fromarray(gray16).save(buf, "PNG")
    out = decode_image(buf.getvalue(), "g.png")
    assert out.min() == 0 and out.max() == 255


@pytest.mark.parametrize("bad", [None, "image", [[1, 2], [3, 4]], np.zeros((4, 4, 2), np.uint8),
                                 np.zeros((0, 5, 3), np.uint8), np.zeros((2, 2, 2, 2), np.uint8),
                                 np.zeros(5, np.uint8), np.array(3), np.array([["a"]]),
                                 np.zeros((4, 4), complex), np.empty((4, 4), object)])
def test_ensure_rgb_refuses(bad):
    with pytest.raises(ImageError):
        ensure_rgb(bad)


def test_ensure_rgb_converts():
    assert ensure_rgb(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
    assert ensure_rgb(np.zeros((3, 4, 1), np.uint8)).shape == (3, 4, 3)
    assert ensure_rgb(np.zeros((3, 4, 4), np.uint8)).shape == (3, 4, 3)
    f = ensure_rgb(np.full((3, 4, 3), np.nan, np.float32))
    assert f.dtype == np.uint8 and (f == 0).all()
    unit = ensure_rgb(np.ones((2, 2, 3), np.float64))
    assert (unit == 255).all()
    wide = ensure_rgb(np.full((2, 2, 3), 1e9))
    assert (wide == 255).all()
    view = np.zeros((10, 10, 3), np.uint8)[::2, ::2]
    assert ensure_rgb(view).flags["C_CONTIGUOUS"]


def test_a_large_16_bit_picture_decodes_without_float64_copies():
    """A 16-bit PNG compresses to almost nothing; decoding it through float64 cost 8 bytes a pixel several
    times over (issue 36). The decode must stay near the size of its result (3 bytes a pixel)."""
    import tracemalloc

    side = 3000
    ramp = (np.arange(side, dtype=np.uint32) * 65535 // (side - 1)).astype(np.uint16)
    buf = io.BytesIO()
    Image.fromarray(np.tile(ramp, (side, 1))).save(buf, "PNG")
    tracemalloc.start()
    try:
        rgb = decode_image(buf.getvalue(), "ramp.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rgb.shape == (side, side, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] == 0 and rgb[0, -1, 0] == 255 and abs(int(rgb[5, side // 2, 1]) - 128) <= 1
    assert peak < 9 * side * side, f"decoding took {peak / side / side:.1f} bytes a pixel"
