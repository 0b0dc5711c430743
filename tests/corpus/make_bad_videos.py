"""Generate short face videos with known timing, and hostile video files, each with what must happen.

``python tests/corpus/make_bad_videos.py [OUT_DIR]`` writes them (default ``tests/corpus/bad/videos/``,
gitignored like the image corpus); the tests call ``make_video_corpus(tmp_dir)``. Everything is
made here with PyAV from scikit-image's astronaut, so nothing is downloaded or checked in.

The good videos (``face_video``) are 4 s at 10 fps, 320x240: the face is in view from 0 to 2 s
(frames 0-19), gone from 2 to 3 s (frames 20-29), back from 3 to 4 s (frames 30-39).
A case expects ``ok`` (``frames`` analysed; a ``partial`` one at least that many, with a warning) or ``error``
(a one-line ``VideoError`` with ``message``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_OUT = Path(__file__).resolve().parent / "bad" / "videos"
SIZE = (320, 240)
FPS = 10
FRAMES = 40
NO_FACE = range(20, 30)  # frames without the face


@dataclass(frozen=True)
class VideoCase:
    """One file of the corpus and what analysing it must give."""

    name: str
    expect: str  # "ok" or "error"
    note: str
    message: str = ""  # substring of the error (lower case)
    frames: int = 0  # frames analysed for an ok case (at least this many when ``partial``)
    partial: bool = False  # a damaged file whose readable part is the result (with a warning)
    header_only: bool = False  # refused by probe_video, before any frame is decoded

    def path(self, root: Path) -> Path:
        return Path(root) / self.name


def face_frames(n: int = FRAMES, size: tuple[int, int] = SIZE, no_face: range = NO_FACE) -> list[np.ndarray]:
    """RGB frames: the astronaut's head drifting on a plain background, absent in ``no_face``."""
    import cv2
    from skimage import data

    head = np.ascontiguousarray(data.astronaut()[0:320, 80:400])
    w, h = size
    side = int(h * 0.85)
    face = cv2.resize(head, (side, side), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(n):
        frame = np.full((h, w, 3), (70, 80, 90), np.uint8)
        if i not in no_face:
            x = (w - side) // 2 + int(20 * np.sin(2 * np.pi * i / n))
            y = (h - side) // 2
            frame[y:y + side, x:x + side] = face
        frames.append(frame)
    return frames


def write_video(path: Path | Any, frames: list[np.ndarray], codec: str = "libx264", fps: int = FPS,
                fmt: str | None = None, times_ms: list[int] | None = None) -> Path | Any:
    """Encode RGB frames with PyAV into a file (or a writable object); ``times_ms`` gives each frame's
    timestamp (a variable frame rate)."""
    import av

    with av.open(str(path) if isinstance(path, (str, Path)) else path, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _zero_frames(path: Path) -> None:
    import av

    out = av.open(str(path), "w", format="avi")
    stream = out.add_stream("mpeg4", rate=FPS)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    out.start_encoding()
    out.close()


def _audio_only(path: Path) -> None:
    import av

    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 44100), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 44100
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def _truncate(source: Path, target: Path) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: len(data) // 2])


def _sparse(path: Path, header: Path, mb: int) -> None:
    """A file of ``mb`` megabytes that costs no disk: a real header, then a hole."""
    with path.open("wb") as fh:
        fh.write(header.read_bytes()[:4096])
        fh.truncate(mb * 2**20)


# VFR: frame i shown at these milliseconds (irregular gaps)
VFR_TIMES_MS = [0, 100, 150, 700, 1000, 1040, 1600, 2000]


def _cases() -> list[tuple[VideoCase, Callable[[Path, Path], object]]]:
    """Every case with its maker, ``make(path, out_dir)`` (some reuse files made before them)."""
    frames = face_frames()
    small = [np.full((48, 64, 3), 90, np.uint8)] * 2
    return [
        (VideoCase("face.mp4", "ok", "H.264 in mp4", frames=FRAMES), lambda p, o: write_video(p, frames)),
        (VideoCase("face.webm", "ok", "VP8 in WebM", frames=FRAMES), lambda p, o: write_video(p, frames, "libvpx")),
        (VideoCase("face.mov", "ok", "H.264 in QuickTime", frames=FRAMES), lambda p, o: write_video(p, frames)),
        (VideoCase("face.mkv", "ok", "MPEG-4 part 2 in Matroska", frames=FRAMES),
         lambda p, o: write_video(p, frames, "mpeg4")),
        (VideoCase("face.avi", "ok", "MPEG-4 part 2 in AVI", frames=FRAMES),
         lambda p, o: write_video(p, frames, "mpeg4")),
        (VideoCase("vfr.mkv", "ok", "variable frame rate (irregular timestamps)", frames=len(VFR_TIMES_MS)),
         lambda p, o: write_video(p, frames[: len(VFR_TIMES_MS)], fmt="matroska", times_ms=VFR_TIMES_MS)),
        (VideoCase("truncated.mkv", "ok", "Matroska cut in half: the first half is analysed", frames=FRAMES // 3,
                   partial=True),
         lambda p, o: _truncate(write_video(o / "_whole.mkv", frames, "mpeg4", fmt="matroska"), p)),
        (VideoCase("truncated.mp4", "error", "mp4 cut in half (its index is at the end)", message="truncated",
                   header_only=True), lambda p, o: _truncate(write_video(o / "_whole.mp4", frames), p)),
        (VideoCase("empty.mp4", "error", "zero-byte file", message="empty", header_only=True),
         lambda p, o: p.write_bytes(b"")),
        (VideoCase("random.mp4", "error", "random bytes", message="not a readable video", header_only=True),
         lambda p, o: p.write_bytes(np.random.default_rng(3).integers(0, 256, 8192, dtype=np.uint8).tobytes())),
        (VideoCase("corrupt_header.mp4", "error", "an mp4 signature followed by garbage", message="not a readable",
                   header_only=True),
         lambda p, o: p.write_bytes(b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 16)),
        (VideoCase("playlist.mp4", "error", "an HLS playlist named .mp4 (must never be followed)",
                   message="not a readable video", header_only=True),
         lambda p, o: p.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n")),
        (VideoCase("image.mp4", "error", "a PNG image named .mp4", message="not a readable video", header_only=True),
         lambda p, o: _png(p)),
        (VideoCase("zero_frames.avi", "error", "a video stream without a single frame", message="no frames"),
         lambda p, o: _zero_frames(p)),
        (VideoCase("audio_only.mp4", "error", "AAC audio, no video stream", message="audio only", header_only=True),
         lambda p, o: _audio_only(p)),
        (VideoCase("huge_resolution.mkv", "error", "one 4096x4096 frame (over max_video_pixels)", message="pixels",
                   header_only=True),
         lambda p, o: write_video(p, [np.full((4096, 4096, 3), 120, np.uint8)], "mjpeg", fmt="matroska")),
        (VideoCase("too_long.mkv", "error", "two frames 700 s apart (over max_video_seconds)", message="longer",
                   header_only=True), lambda p, o: write_video(p, small, fmt="matroska", times_ms=[0, 700_000])),
        (VideoCase("too_big.mp4", "error", "a 101 MB file (sparse; over max_video_mb)", message="mb",
                   header_only=True), lambda p, o: _sparse(p, o / "face.mp4", 101)),
        (VideoCase("folder.mp4", "error", "a folder named like a video", message="folder", header_only=True),
         lambda p, o: p.mkdir(exist_ok=True)),
    ]


def video_cases() -> list[VideoCase]:
    """The cases, without making any file."""
    return [c for c, _ in _cases()]


def make_video_corpus(out_dir: str | Path) -> list[VideoCase]:
    """Write every case into ``out_dir`` (created) and return the cases."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cases = _cases()
    for case, make in cases:
        make(case.path(out), out)
    for scratch in ("_whole.mkv", "_whole.mp4"):
        (out / scratch).unlink(missing_ok=True)
    return [c for c, _ in cases]


def _png(path: Path) -> None:
    from PIL import Image

    Image.new("RGB", (32, 32), (200, 10, 10)).save(path, "PNG")


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    cases = make_video_corpus(out)
    for c in cases:
        print(f"{c.expect:5}  {c.name:24}  {c.note}")
    print(f"{len(cases)} cases in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
