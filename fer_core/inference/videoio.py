"""Safe video reading and writing with PyAV: limits checked on the header, frames as RGB arrays.

Why: a video comes from a stranger just like a photo does. Its container is recognised from its
first bytes and only mp4/mov, Matroska/WebM and AVI demuxers are ever used (so a text file
cannot make FFmpeg follow a playlist or another protocol); size, length and frame size are
refused from the header before any frame is decoded; and every FFmpeg failure becomes a
one-line ``VideoError``. Decoding still checks each frame, since a header can lie.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from fer_core.data.imageio import display_name
from fer_core.errors import VideoError
from fer_core.paths import regular_file_size
from fer_core.settings import Settings, get_settings

log = logging.getLogger(__name__)

VIDEO_EXTENSIONS: tuple[str, ...] = (".mp4", ".webm", ".mov", ".mkv", ".avi", ".m4v")
ACCEPTED_TEXT = "mp4, webm, mov, mkv or avi"
MAX_FPS = 240  # frames per second of content a file may hold (bounds work when timestamps lie)
MAX_VIDEO_SECONDS = 600.0  # a video's length, checked on the header and again while decoding
MAX_VIDEO_PIXELS = 3840 * 2160  # a frame's size, likewise (the size in MB is a setting: FER_MAX_VIDEO_MB)
_MP4_BOXES = (b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")


class DamagedVideoError(VideoError):
    """Decoding failed part way: the frames before the damage are still a result."""


@dataclass(frozen=True)
class VideoInfo:
    """What the header says about a video file (before its frames are decoded)."""

    name: str
    container: str  # FFmpeg demuxer used: mov, matroska or avi
    codec: str
    width: int
    height: int
    fps: float  # average (or guessed) frame rate; 0 when unknown
    duration: float | None  # seconds, None when the header does not say
    frames: int | None  # frame count from the header, None when unknown

    @property
    def expected_frames(self) -> int | None:
        """The header's frame count, else duration x fps, else ``None``."""
        if self.frames:
            return self.frames
        if self.duration and self.fps:
            return max(1, round(self.duration * self.fps))
        return None


@dataclass
class DecodedFrame:
    """One decoded frame: its position in the stream, its time in seconds and its RGB pixels."""

    index: int
    time: float
    rgb: np.ndarray


def sniff_container(head: bytes) -> str | None:
    """The FFmpeg demuxer for a file starting with ``head`` (mov, matroska, avi), or ``None``."""
    if len(head) >= 12 and head[4:8] in _MP4_BOXES:
        return "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "matroska"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    return None


def _check_file(path: Path, settings: Settings, shown: str) -> str:
    """Refuse folders, devices, missing, empty and oversized files; return the demuxer to use."""
    try:
        size = regular_file_size(path, shown, VideoError, "a video")
        with path.open("rb") as fh:
            head = fh.read(64)
    except VideoError:
        raise
    except (OSError, ValueError) as exc:
        raise VideoError(f"{shown}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    limit = settings.max_video_mb * 2**20
    if size == 0:
        raise VideoError(f"{shown}: the file is empty")
    if size > limit:
        raise VideoError(f"{shown}: {size / 2**20:.1f} MB is more than the limit of {settings.max_video_mb} MB")
    container = sniff_container(head)
    if container is None:
        raise VideoError(f"{shown}: not a readable video ({ACCEPTED_TEXT})")
    return container


def open_container(path: str | Path, settings: Settings | None = None,
                   name: str | None = None) -> tuple[Any, VideoInfo]:
    """Open ``path`` with PyAV after the file checks; return the container and its header facts.

    Raises ``VideoError`` for anything that is not a video within the limits; messages name the
    file ``name`` (e.g. the uploaded file's name) or ``path``. The caller closes the container
    (``with`` works on it).
    """

    p = Path(path)
    s = settings or get_settings()
    shown = display_name(name if name is not None else p)
    container_kind = _check_file(p, s, shown)
    try:
        container = av.open(str(p), format=container_kind, options={"protocol_whitelist": "file"})
    except av.error.FFmpegError as exc:
        raise VideoError(f"{shown}: not a readable video, damaged or truncated ({_reason(exc)})") from None
    try:
        info = _header_info(container, container_kind, shown)
    except BaseException:
        container.close()
        raise
    return container, info


def probe_video(path: str | Path, settings: Settings | None = None, name: str | None = None) -> VideoInfo:
    """Header facts of a video file, every limit checked; nothing decoded."""
    container, info = open_container(path, settings, name)
    container.close()
    return info


def _header_info(container: Any, kind: str, shown: str) -> VideoInfo:
    if not container.streams.video:
        what = "audio only" if container.streams.audio else "no streams"
        raise VideoError(f"{shown}: has no video stream ({what})")
    stream = container.streams.video[0]
    width, height = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
    if width <= 0 or height <= 0:
        raise VideoError(f"{shown}: the video stream has no frame size")
    if width * height > MAX_VIDEO_PIXELS:
        raise VideoError(f"{shown}: {width}x{height} pixels a frame is more than the limit of "
                         f"{MAX_VIDEO_PIXELS:,} pixels")
    rate = stream.average_rate or stream.guessed_rate
    fps = float(rate) if rate and 0 < float(rate) <= 10_000 else 0.0
    duration = _duration(container, stream)
    if duration is not None and duration > MAX_VIDEO_SECONDS:
        raise VideoError(f"{shown}: {duration:.0f} s is longer than the limit of {MAX_VIDEO_SECONDS:.0f} s")
    frames = int(stream.frames) if stream.frames and stream.frames > 0 else None
    return VideoInfo(shown, kind, stream.codec_context.name, width, height, fps, duration, frames)


def _duration(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base:
        seconds = float(stream.duration * stream.time_base)
        if seconds > 0:
            return seconds
    if container.duration is not None and container.duration > 0:
        return container.duration / 1_000_000
    return None


def iter_frames(container: Any, info: VideoInfo) -> Iterator[DecodedFrame]:
    """Decode the first video stream frame by frame as RGB, enforcing the limits on every frame.

    Times come from each frame's timestamp (variable frame rates are kept as they are); a frame
    without one, or going backwards, gets the previous time plus one frame interval.
    Raises ``VideoError`` when a frame breaks a limit or the data cannot be decoded.
    """

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    step = 1.0 / info.fps if info.fps else 1.0 / 30.0
    max_frames = int(MAX_VIDEO_SECONDS * MAX_FPS)
    last = -step
    decoded = container.decode(stream)
    for index in range(max_frames + 1):
        try:
            frame = next(decoded)
        except StopIteration:
            return
        except av.error.FFmpegError as exc:
            raise DamagedVideoError(f"{info.name}: damaged or truncated after {index} frame(s) "
                                    f"({_reason(exc)})") from None
        if index == max_frames:
            raise VideoError(f"{info.name}: more than {max_frames:,} frames is more than the limit")
        t = _frame_time(frame, last, step)
        if t > MAX_VIDEO_SECONDS:
            raise VideoError(f"{info.name}: longer than the limit of {MAX_VIDEO_SECONDS:.0f} s")
        if frame.width * frame.height > MAX_VIDEO_PIXELS:
            raise VideoError(f"{info.name}: a {frame.width}x{frame.height} frame is more than the limit of "
                             f"{MAX_VIDEO_PIXELS:,} pixels")
        last = t
        yield DecodedFrame(index, t, frame.to_ndarray(format="rgb24"))


def _frame_time(frame: Any, last: float, step: float) -> float:
    t = frame.time
    if t is None or not np.isfinite(t) or t <= last:
        return last + step
    return float(t)


class VideoWriter:
    """H.264 in mp4 (browsers play it), frames timed by the source's timestamps.

    Odd frame sizes are cropped by one pixel (4:2:0 needs even sizes); timestamps are kept in
    milliseconds and forced to increase, so variable frame rates survive.
    """

    def __init__(self, path: str | Path, width: int, height: int, fps: float = 30.0) -> None:

        self.path = Path(path)
        self.width, self.height = width - width % 2, height - height % 2
        self._out = av.open(str(self.path), "w", format="mp4", options={"movflags": "+faststart"})
        self._stream = self._out.add_stream("libx264", rate=max(1, round(fps or 30)),
                                            options={"preset": "veryfast", "crf": "26"})
        self._stream.width, self._stream.height = self.width, self.height
        self._stream.pix_fmt = "yuv420p"
        self._stream.codec_context.time_base = Fraction(1, 1000)
        self._last_pts = -1

    def write(self, rgb: np.ndarray, time: float) -> None:
        """Add one RGB frame shown from ``time`` seconds on (resized to the video's size if needed)."""

        if rgb.shape[0] != self.height or rgb.shape[1] != self.width:

            rgb = cv2.resize(rgb, (self.width, self.height), interpolation=cv2.INTER_AREA)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        self._last_pts = max(self._last_pts + 1, int(round(time * 1000)))
        frame.pts, frame.time_base = self._last_pts, Fraction(1, 1000)
        for packet in self._stream.encode(frame):
            self._out.mux(packet)

    def close(self) -> None:
        """Flush the encoder and finish the file."""
        try:
            for packet in self._stream.encode():
                self._out.mux(packet)
        finally:
            self._out.close()


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without the file name it repeats."""
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split())[:160]


__all__ = ["ACCEPTED_TEXT", "DamagedVideoError", "DecodedFrame", "VIDEO_EXTENSIONS", "VideoInfo", "VideoWriter",
           "iter_frames", "open_container", "probe_video", "sniff_container"]
