"""Expressions over time in a video file, with the live page's pipeline; ``python -m fer_core.video``.

Each analysed frame goes through what the live page does (``fer_core.inference.frames``): faces detected
on a small copy, the largest one classified with the card's test-time views at most ten times a
second of video (the result held in between, as the live page holds it), its probabilities
smoothed over time and reset once the face has been lost for a few analysed frames. Unlike the
live page nothing has to be shown at once, so the crops of many frames go through the model in
one batched call; each frame's result is the same as classifying it alone.

    python -m fer_core.video IN [--out annotated.mp4] [--csv timeline.csv] [--every N | --fps F]
                             [--classify-interval S] [--model M] [--detector D] [--no-smoothing]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fer_core import cli
from fer_core.errors import FerError, VideoError, one_line
from fer_core.inference.calibration import load_calibration
from fer_core.inference.frames import FrameAnalyser, Sampler
from fer_core.inference.pipeline import Pipeline, get_pipeline
from fer_core.inference.stream import StreamOptions
from fer_core.inference.timeline import FrameRow, Summary, summarize, timeline_csv
from fer_core.inference.timing import REFERENCE_FPS
from fer_core.inference.videoio import (
    DamagedVideoError,
    DecodedFrame,
    VideoInfo,
    VideoWriter,
    iter_frames,
    open_container,
    probe_video,
)

log = logging.getLogger(__name__)

FramesDoneFn = Callable[[int, "int | None"], None]  # (frames analysed, frames expected or None)


class AnalysisCancelled(FerError):
    """The analysis was cancelled (a newer upload replaced it)."""


@dataclass
class VideoResult:
    """Everything an analysis gives: header facts, one row per analysed frame, the summary."""

    info: VideoInfo
    class_names: list[str]
    rows: list[FrameRow]
    summary: Summary
    frames_decoded: int
    seconds: float  # wall-clock time the analysis took
    annotated: Path | None = None
    warning: str | None = None  # e.g. the file was cut short: the result covers what could be read

    def csv(self) -> bytes:
        return timeline_csv(self.rows, self.class_names)


def analyze_video(path: str | Path, pipeline: Pipeline | None = None, *, out: str | Path | None = None,
                  options: StreamOptions | None = None, progress: FramesDoneFn | None = None,
                  cancel: threading.Event | None = None, name: str | None = None) -> VideoResult:
    """Analyse a video file; optionally write the annotated video to ``out`` (H.264 mp4).

    Raises ``VideoError`` (bad file, over a limit, no frame decoded), ``AnalysisCancelled`` when
    ``cancel`` is set, ``ModelError`` from a default pipeline; messages call the file ``name``
    (default: the path). ``progress(done, expected)`` is called a
    few times a second with the frames decoded and the header's frame count (or ``None``), and
    once at the end with both equal.
    """
    opts = options or StreamOptions()
    sampler = Sampler(opts.every, opts.fps)
    t0 = time.perf_counter()
    container, info = open_container(path, name=name)
    writer: VideoWriter | None = None
    try:
        if pipeline is None:

            pipeline = get_pipeline()
        if out is not None:
            writer = VideoWriter(out, info.width, info.height, info.fps or REFERENCE_FPS)
        analyser = FrameAnalyser(pipeline, opts, writer.write if writer is not None else None)
        decoded, last_time, warning = _feed(analyser, container, info, sampler, cancel,
                                            _throttled(progress, info.expected_frames))
    except BaseException:
        _discard(writer)
        raise
    finally:
        container.close()
    if writer is not None:
        writer.close()
    if progress is not None:
        progress(decoded, decoded)
    duration, short = _extent(info, last_time)
    return VideoResult(info, list(pipeline.classifier.class_names), analyser.rows, summarize(analyser.rows, duration),
                       decoded, time.perf_counter() - t0, writer.path if writer is not None else None, warning or short)


def _feed(analyser: FrameAnalyser, container: Any, info: VideoInfo, sampler: Sampler,
          cancel: threading.Event | None, report: Callable[[int], None]) -> tuple[int, float, str | None]:
    """Decode every frame, hand the sampled ones to ``analyser``; return frames decoded, the last
    frame's time, and a warning when the file broke off part way (what came before still counts)."""
    decoded, last_time, warning = 0, 0.0, None

    def sampled() -> Iterator[DecodedFrame]:
        nonlocal decoded, last_time
        for frame in iter_frames(container, info):
            if cancel is not None and cancel.is_set():
                raise AnalysisCancelled(f"{info.name}: analysis cancelled")
            decoded, last_time = frame.index + 1, frame.time
            report(decoded)
            if sampler.keep(frame):
                yield frame

    try:
        for frame in sampled():
            analyser.feed(frame)
    except DamagedVideoError as exc:
        warning = str(exc)
        log.info("%s", warning)
    analyser.flush()
    if not analyser.rows:
        raise VideoError(warning or f"{info.name}: the video has no frames")
    return decoded, last_time, warning


def _extent(info: VideoInfo, last_time: float) -> tuple[float, str | None]:
    """The video's length: the header's, unless the frames stop well before it (a cut file)."""
    step = 1.0 / info.fps if info.fps else 1.0 / REFERENCE_FPS
    decoded_end = last_time + step
    if info.duration is None:
        return decoded_end, None
    if decoded_end + 2 * step < info.duration:
        return decoded_end, (f"{info.name}: the frames end at {decoded_end:.1f} s of the {info.duration:.1f} s "
                             "the file announces (truncated?); the result covers what could be read")
    return info.duration, None


def _throttled(progress: FramesDoneFn | None, expected: int | None, every_s: float = 0.2) -> Callable[[int], None]:
    """``progress`` called at most every ``every_s`` seconds (or never when ``None``)."""
    last = [0.0]

    def report(done: int) -> None:
        now = time.monotonic()
        if progress is not None and now - last[0] >= every_s:
            last[0] = now
            progress(done, expected)

    return report


def _discard(writer: VideoWriter | None) -> None:
    """Close and delete a half-written output (a broken file must not look like a result)."""
    if writer is None:
        return
    try:
        writer.close()
    except Exception:  # the encoder may be in any state after a failure
        log.debug("closing a failed output", exc_info=True)
    writer.path.unlink(missing_ok=True)


# ---------------------------------------------------------------- command line
def _error(message: object) -> None:
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)


def _progress_bar(stream: Any) -> FramesDoneFn:
    """A one-line bar on a terminal."""

    def show(done: int, total: int | None) -> None:
        if total:
            frac = min(done / total, 1.0)
            bar = "#" * int(frac * 30)
            stream.write(f"\r[{bar:<30}] {frac:4.0%} {done}/{total} frames")
        else:
            stream.write(f"\r{done} frames")
        stream.flush()

    return show


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=cli.prog("fer_core.video"), description=__doc__.splitlines()[0])
    p.add_argument("video", help="video file (mp4, webm, mov, mkv, avi)")
    p.add_argument("--out", help="write the annotated video here (H.264 mp4)")
    p.add_argument("--csv", help="write the timeline here, one row per analysed frame")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--every", type=int, default=1, help="analyse every n-th frame (default: every frame)")
    rate.add_argument("--fps", type=float, default=None, help="analyse about this many frames per second")
    p.add_argument("--model", default=None, help="model directory or name under models/ (default: default)")
    p.add_argument("--detector", default=None, help="auto | yunet | haar")
    p.add_argument("--calibration", default=None,
                   help="a personal calibration file (python -m fer_core.calibrate) for this model")
    p.add_argument("--classify-interval", type=float, default=StreamOptions.classify_interval,
                   help="seconds of video between two classifications of the face, the result held between "
                        "(default 0.1, as on the live page; 0: classify every analysed frame)")
    p.add_argument("--no-smoothing", action="store_true", help="show each frame's own probabilities")
    return p


def main(argv: list[str] | None = None) -> int:
    """Analyse one video; exit 0, 1 when the video cannot be analysed, 2 when the model cannot be loaded."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    if args.every < 1 or (args.fps is not None and not 0 < args.fps <= 1000):
        _error("--every must be at least 1 and --fps between 0 and 1000")
        return 1
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 1
    except Exception as exc:  # last resort: one line, details only with debug logging
        log.debug("unexpected failure", exc_info=True)
        _error(f"unexpected {type(exc).__name__}: {exc}")
        return 2


def _run(args: argparse.Namespace) -> int:

    try:
        probe_video(args.video)  # a bad file is refused before TensorFlow is loaded
    except FerError as exc:
        _error(exc)
        return 1

    try:
        calibration = load_calibration(args.calibration) if args.calibration else None
        pipe = get_pipeline(args.model, args.detector, calibration)
    except (FerError, ValueError, OSError) as exc:
        _error(exc)
        return 2
    options = StreamOptions(every=args.every, fps=args.fps, smoothing=not args.no_smoothing,
                           classify_interval=max(0.0, args.classify_interval))
    bar = _progress_bar(sys.stderr) if sys.stderr.isatty() else None
    try:
        result = analyze_video(args.video, pipe, out=args.out, options=options, progress=bar)
    except FerError as exc:
        _error(exc)
        return 1
    finally:
        if bar is not None:
            sys.stderr.write("\n")
    if args.csv:
        Path(args.csv).write_bytes(result.csv())
    _print_summary(result)
    return 0


def _print_summary(result: VideoResult) -> None:
    s = result.summary
    print(f"{result.info.name}: {result.info.width}x{result.info.height}, {result.info.codec}")
    for line in s.lines():
        print(line)
    print(f"analysed in {result.seconds:.1f} s ({s.frames_analysed / max(result.seconds, 1e-9):.1f} frames/s)")
    if result.warning:
        print(f"warning: {result.warning}")


if __name__ == "__main__":
    sys.exit(main())
