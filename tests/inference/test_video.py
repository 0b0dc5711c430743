"""Video files through the engine with the shipped model: every container, sampling, timing, smoothing,
the annotated video, the CSV, the command line, and the hostile corpus (tests/corpus/make_bad_videos.py).

The face videos are 4 s at 10 fps with the face gone from 2 s to 3 s (frames 20-29), so which rows
must have a face, and when, is known.
"""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from fer_core.colors import class_rgb
from fer_core.data.imageio import display_name
from fer_core.errors import VideoError
from fer_core.inference import videoio
from fer_core.inference.pipeline import get_pipeline
from fer_core.inference.stream import StreamOptions
from fer_core.inference.timeline import FrameRow, row_spans, summarize
from fer_core.inference.video import AnalysisCancelled, Sampler, analyze_video
from fer_core.inference.videoio import DecodedFrame, iter_frames, open_container, probe_video, sniff_container
from tests.conftest import ROOT
from tests.corpus.make_bad_videos import (
    FRAMES,
    NO_FACE,
    VFR_TIMES_MS,
    VideoCase,
    face_frames,
    make_video_corpus,
    video_cases,
    write_video,
)

FORMATS = ["face.mp4", "face.webm", "face.mov", "face.mkv", "face.avi"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, VideoCase]]:
    root = tmp_path_factory.mktemp("videos")
    return root, {c.name: c for c in make_video_corpus(root)}


@pytest.fixture(scope="module")
def pipe(default_model_dir: Path):
    pipeline = get_pipeline(default_model_dir)
    pipeline.classifier.warm_up()
    return pipeline


@pytest.fixture(scope="module")
def mp4_result(corpus, pipe, tmp_path_factory):
    root, _ = corpus
    out = tmp_path_factory.mktemp("annotated") / "annotated.mp4"
    return analyze_video(root / "face.mp4", pipe, out=out)


def _case_ids(cases: list[str]) -> list[str]:
    return [c.replace(".", "_") for c in cases]


# ---------------------------------------------------------------- good videos
@pytest.mark.parametrize("name", FORMATS, ids=_case_ids(FORMATS))
def test_every_container_gives_the_known_timeline(name, corpus, pipe):
    root, _ = corpus
    result = analyze_video(root / name, pipe)
    rows = result.rows
    assert [r.frame for r in rows] == list(range(FRAMES))
    assert [r.time for r in rows] == pytest.approx([i / 10 for i in range(FRAMES)], abs=2e-3)
    without = [r.frame for r in rows if r.box is None]
    assert without == list(NO_FACE), f"{name}: frames without a face {without}"
    names = set(pipe.classifier.class_names)
    for r in rows:
        if r.box is None:
            assert r.label is None and r.faces == 0 and not r.probabilities
            continue
        x, y, w, h = r.box
        assert 0 <= x and 0 <= y and x + w <= 320 and y + h <= 240 and w > 20
        assert r.label in names and r.faces >= 1
        assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert r.score == pytest.approx(max(r.probabilities.values()))
    s = result.summary
    assert s.duration == pytest.approx(4.0, abs=0.01) and s.frames_analysed == FRAMES
    assert s.frames_without_face == len(NO_FACE)
    assert sum(s.share.values()) == pytest.approx(1.0) and s.dominant == max(s.share, key=s.share.get)
    assert s.face_seconds == pytest.approx(3.0, abs=0.05)  # the face is in view 3 of the 4 s
    assert result.warning is None


def test_same_frames_same_result_whatever_the_batching(corpus, pipe):
    root, _ = corpus
    batched = analyze_video(root / "face.mkv", pipe, options=StreamOptions(smoothing=False))
    single = analyze_video(root / "face.mkv", pipe, options=StreamOptions(smoothing=False, batch=1))
    assert len(batched.rows) == len(single.rows) == FRAMES
    assert sum(r.label is not None for r in batched.rows) == FRAMES - len(NO_FACE)
    for a, b in zip(batched.rows, single.rows, strict=True):
        assert a.label == b.label and a.box == b.box
        for c in a.probabilities:
            assert a.probabilities[c] == pytest.approx(b.probabilities[c], abs=1e-4)


def test_rows_match_the_model_on_each_frame(corpus, pipe):
    """With classification on every frame and no smoothing, a row is the model's output on that frame."""
    root, _ = corpus
    result = analyze_video(root / "face.mp4", pipe, options=StreamOptions(smoothing=False, classify_interval=0,
                                                                         detect_every=0))
    container, info = open_container(root / "face.mp4")
    with container:
        frames = {f.index: f.rgb for f in iter_frames(container, info)}
    for row in result.rows[::7]:
        faces = pipe.analyze(frames[row.frame], classify="largest")
        if not faces:
            assert row.box is None
            continue
        assert row.box == faces[0].box.as_tuple() and row.label == faces[0].label
        assert row.score == pytest.approx(faces[0].score, abs=1e-4)


def _two_faces_video(path: Path, gap: int) -> tuple[Path, range]:
    """10 fps: the smiling astronaut for 1.5 s, ``gap`` frames of empty wall, then a face at rest for 1.5 s;
    returns the file and the frames of the second face."""
    from tests.truth import NEUTRAL, SMILING, in_frame

    wall = np.full((240, 320, 3), (70, 80, 90), np.uint8)
    first, second = (in_frame(p.face(), (320, 240)) for p in (SMILING[0], NEUTRAL[0]))
    frames = [first] * 15 + [wall] * gap + [second] * 15
    return write_video(path, frames), range(15 + gap, 30 + gap)


# Slow smoothing (the old state keeps 0.98 per 1/30 s), so that after a gap of a second the smiling face's
# state would still outweigh the new face's: only a reset lets the new face's own expression show.
SLOW = 0.02


def test_smoothing_resets_when_the_face_is_lost(pipe, tmp_path):
    """The face gone for more than ``lost_after`` analysed frames: the next face starts afresh; its
    timeline rows read its own expression from its first frame (raw and smoothed agree)."""
    lost = StreamOptions().lost_after
    path, second = _two_faces_video(tmp_path / "reset.mp4", gap=lost + 4)
    raw = analyze_video(path, pipe, options=StreamOptions(smoothing=False, classify_interval=0))
    smooth = analyze_video(path, pipe, options=StreamOptions(alpha=SLOW, classify_interval=0))
    assert raw.rows[0].label == "happy" and raw.rows[second.start].label == "neutral"
    back = second.start
    assert smooth.rows[back].label == "neutral", "the smiling face's state outlived the loss of the face"
    assert smooth.rows[back].probabilities == pytest.approx(raw.rows[back].probabilities, abs=1e-6)
    assert [r.label for r in smooth.rows[back:]] == ["neutral"] * len(second)


def test_a_short_loss_keeps_the_smoothing(pipe, tmp_path):
    """Fewer empty frames than ``lost_after`` (a blink, a hand): the state carries over, so with slow
    smoothing the new face first reads as the old one; the reset test above is not passing by accident."""
    lost = StreamOptions().lost_after
    gap = lost - 2
    path, second = _two_faces_video(tmp_path / "blink.mp4", gap=gap)
    raw = analyze_video(path, pipe, options=StreamOptions(smoothing=False, classify_interval=0))
    smooth = analyze_video(path, pipe, options=StreamOptions(alpha=SLOW, classify_interval=0))
    back, last_smile = second.start, second.start - gap - 1
    assert [r.label for r in smooth.rows[last_smile + 1:back]] == [None] * gap
    assert raw.rows[back].label == "neutral" and smooth.rows[back].label == "happy"
    # ... and the new face already pulls the state its way
    assert smooth.rows[back].probabilities["neutral"] > smooth.rows[last_smile].probabilities["neutral"]


def test_smoothing_trails_the_raw_values_inside_a_stretch(corpus, pipe):
    root, _ = corpus
    raw = analyze_video(root / "face.mp4", pipe, options=StreamOptions(smoothing=False, classify_interval=0))
    smooth = analyze_video(root / "face.mp4", pipe, options=StreamOptions(smoothing=True, classify_interval=0))
    assert len(raw.rows) == len(smooth.rows) == FRAMES
    diffs = [max(abs(smooth.rows[i].probabilities[c] - raw.rows[i].probabilities[c]) for c in raw.rows[i].probabilities)
             for i in range(1, NO_FACE.start)]
    assert max(diffs) > 1e-4
    # frame 0 has nothing before it: identical
    assert smooth.rows[0].probabilities == pytest.approx(raw.rows[0].probabilities, abs=1e-6)


def test_classify_interval_holds_the_result_between(corpus, pipe):
    root, _ = corpus
    result = analyze_video(root / "face.mp4", pipe, options=StreamOptions(classify_interval=0.25))
    flags = [r.classified for r in result.rows]
    assert flags[:10] == [True, False, False, True, False, False, True, False, False, True]
    assert not any(flags[i] for i in NO_FACE)
    assert flags[NO_FACE.stop], "a face that comes back is classified at once"
    for r in result.rows[1:3]:
        assert r.probabilities == result.rows[0].probabilities and r.box is not None


def test_sampling_every_n_and_by_rate(corpus, pipe):
    root, _ = corpus
    every = analyze_video(root / "face.avi", pipe, options=StreamOptions(every=4))
    assert [r.frame for r in every.rows] == list(range(0, FRAMES, 4))
    by_rate = analyze_video(root / "face.webm", pipe, options=StreamOptions(fps=2))
    assert [r.time for r in by_rate.rows] == pytest.approx([i * 0.5 for i in range(8)], abs=2e-3)
    assert by_rate.frames_decoded == FRAMES
    assert by_rate.summary.frames_without_face == 2  # 2.0 s and 2.5 s
    assert by_rate.summary.face_seconds == pytest.approx(3.0, abs=0.01)


def test_variable_frame_rate_keeps_real_times(corpus, pipe):
    root, _ = corpus
    result = analyze_video(root / "vfr.mkv", pipe)
    assert [r.time for r in result.rows] == pytest.approx([t / 1000 for t in VFR_TIMES_MS], abs=1e-3)
    sampled = analyze_video(root / "vfr.mkv", pipe, options=StreamOptions(fps=2))
    # one frame per half-second slot, the first in each: 0.0, 0.7, 1.0, 1.6, 2.0
    assert [r.time for r in sampled.rows] == pytest.approx([0.0, 0.7, 1.0, 1.6, 2.0], abs=1e-3)


def test_annotated_video_has_every_analysed_frame_with_boxes(mp4_result, corpus):
    root, _ = corpus
    out = mp4_result.annotated
    assert out is not None and out.stat().st_size > 1000
    info = probe_video(out)
    assert (info.width, info.height, info.codec) == (320, 240, "h264")
    container, info = open_container(out)
    with container:
        frames = list(iter_frames(container, info))
    assert len(frames) == FRAMES
    assert [f.time for f in frames] == pytest.approx([r.time for r in mp4_result.rows], abs=2e-3)
    source = face_frames()
    row = mp4_result.rows[5]
    x, y, w, h = row.box
    edge = frames[5].rgb[y + h // 2, max(0, x - 1):x + 3].astype(int)
    drawn = np.abs(edge - class_rgb(row.label)).sum(axis=1) < 90  # the box in its label's colour (H.264 blurs it)
    assert drawn.any(), (row.label, edge)
    empty = frames[NO_FACE.start + 2].rgb.astype(int) - source[NO_FACE.start + 2].astype(int)
    assert np.abs(empty).mean() < 6, "a frame without a face is passed through undrawn"


def test_csv_has_a_row_per_analysed_frame(mp4_result, pipe):
    rows = list(csv.DictReader(io.StringIO(mp4_result.csv().decode("utf-8"))))
    assert len(rows) == FRAMES
    head = list(rows[0])
    assert head[:8] == ["time_s", "frame", "x", "y", "w", "h", "label", "score"]
    assert head[8:-2] == [f"p_{c}" for c in pipe.classifier.class_names] and head[-2:] == ["faces", "classified"]
    gap = rows[NO_FACE.start]
    assert gap["label"] == "" and gap["x"] == "" and gap["faces"] == "0"
    first = rows[0]
    assert first["label"] in pipe.classifier.class_names and float(first["time_s"]) == 0.0
    assert sum(float(first[f"p_{c}"]) for c in pipe.classifier.class_names) == pytest.approx(1.0, abs=2e-3)


def test_cancel_stops_and_removes_the_partial_output(corpus, pipe, tmp_path):
    root, _ = corpus
    cancel = threading.Event()
    seen = []

    def progress(done, total):
        seen.append((done, total))
        cancel.set()

    out = tmp_path / "partial.mp4"
    with pytest.raises(AnalysisCancelled):
        analyze_video(root / "face.mp4", pipe, out=out, progress=progress, cancel=cancel)
    assert seen and seen[0][1] == FRAMES
    assert not out.exists()


def test_progress_ends_at_the_frame_count(corpus, pipe):
    root, _ = corpus
    seen = []
    analyze_video(root / "face.mkv", pipe, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (FRAMES, FRAMES)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


# ---------------------------------------------------------------- hostile corpus
ALL = video_cases()
BAD = [c.name for c in ALL if c.expect == "error"]
OK = [c.name for c in ALL if c.expect == "ok"]
ODD = [n for n in OK if n not in FORMATS]


def test_corpus_covers_the_hostile_kinds():
    assert len(BAD) >= 10 and len(OK) >= 6
    notes = " ".join(c.note for c in ALL).lower()
    for kind in ("cut in half", "zero-byte", "random", "audio", "4096x4096", "variable frame rate", "without a single",
                 "playlist", "700 s", "101 mb"):
        assert kind in notes, kind


@pytest.mark.parametrize("name", BAD, ids=_case_ids(BAD))
def test_bad_video_gives_one_line_error(name, corpus, pipe):
    root, cases = corpus
    case = cases[name]
    if case.header_only:
        with pytest.raises(VideoError) as info:
            probe_video(case.path(root), name=name)
        _assert_one_line(str(info.value), case)
    with pytest.raises(VideoError) as info:
        analyze_video(case.path(root), pipe, name=name)
    _assert_one_line(str(info.value), case)


@pytest.mark.parametrize("name", ODD, ids=_case_ids(ODD))
def test_odd_but_good_video_gives_a_result(name, corpus, pipe):
    root, cases = corpus
    case = cases[name]
    result = analyze_video(case.path(root), pipe)
    if case.partial:
        assert len(result.rows) >= case.frames and result.warning and "truncated" in result.warning
        assert result.summary.duration < 3.0  # the readable part, not the 4 s the header announces
    else:
        assert len(result.rows) == case.frames and result.warning is None


def _assert_one_line(message: str, case: VideoCase) -> None:
    assert "\n" not in message and "\r" not in message and message.isprintable(), repr(message)
    assert message.startswith(display_name(case.name) + ": "), message
    assert case.message in message.lower(), f"{case.message!r} not in {message!r}"


def test_limits_are_checked(corpus, pipe, monkeypatch):
    root, _ = corpus
    monkeypatch.setattr(videoio, "MAX_VIDEO_PIXELS", 320 * 240 - 1)  # lowered to this file's frame size
    with pytest.raises(VideoError, match="pixels"):
        probe_video(root / "face.mp4")
    monkeypatch.setattr(videoio, "MAX_VIDEO_PIXELS", 320 * 240)
    monkeypatch.setattr(videoio, "MAX_VIDEO_SECONDS", 3.0)
    with pytest.raises(VideoError, match="longer than the limit of 3 s"):
        analyze_video(root / "face.mp4", pipe)
    monkeypatch.setattr(videoio, "MAX_VIDEO_SECONDS", 600.0)
    monkeypatch.setenv("FER_MAX_VIDEO_MB", "0")  # the one video limit that is a setting
    with pytest.raises(VideoError, match="more than the limit of 0 MB"):
        probe_video(root / "face.mp4")


def test_a_header_that_lies_about_its_length_is_still_bounded(tmp_path, pipe, monkeypatch):
    """No duration in the header (a stream with no end written): the limit holds while decoding."""
    path = tmp_path / "streamed.mkv"
    with path.open("wb") as fh:
        write_video(_Unseekable(fh), face_frames(30, no_face=range(0)), "mpeg4", fmt="matroska")
    assert probe_video(path).duration is None  # nothing in the header to refuse it by
    monkeypatch.setattr(videoio, "MAX_VIDEO_SECONDS", 2.0)
    with pytest.raises(VideoError, match="longer than the limit of 2 s"):
        analyze_video(path, pipe)


class _Unseekable:
    """A write-only stream: the muxer cannot go back to write the duration (as when streaming)."""

    def __init__(self, fh) -> None:
        self.fh = fh

    def write(self, data: bytes) -> int:
        return self.fh.write(data)


def test_sniffing_and_sampler_edges():
    assert sniff_container(b"\x00\x00\x00\x20ftypisom" + b"\x00" * 8) == "mov"
    assert sniff_container(b"\x1a\x45\xdf\xa3" + b"\x00" * 12) == "matroska"
    assert sniff_container(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_container(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None
    assert sniff_container(b"#EXTM3U\n") is None
    s = Sampler(fps=4)
    times = [0.0, 0.1, 0.2, 0.26, 0.5, 0.51, 1.2]
    kept = [t for i, t in enumerate(times) if s.keep(DecodedFrame(i, t, np.zeros((1, 1, 3), np.uint8)))]
    assert kept == [0.0, 0.26, 0.5, 1.2]
    with pytest.raises(ValueError):
        Sampler(every=0)


def test_time_shares_are_weighted_by_real_time():
    rows = [FrameRow(0.0, 0, 1, box=(0, 0, 9, 9), label="happy"), FrameRow(0.1, 1, 1, box=(0, 0, 9, 9), label="sad"),
            FrameRow(1.0, 2, 0), FrameRow(1.5, 3, 1, box=(0, 0, 9, 9), label="sad")]
    assert row_spans(rows, 2.0) == pytest.approx([0.1, 0.9, 0.5, 0.5])
    s = summarize(rows, 2.0)
    assert s.share == pytest.approx({"happy": 0.1 / 1.5, "sad": 1.4 / 1.5})
    assert s.dominant == "sad" and s.frames_without_face == 1 and s.duration == 2.0
    empty = summarize([], 3.0)
    assert empty.dominant is None and empty.share == {} and empty.frames_analysed == 0


# ---------------------------------------------------------------- command line
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fer_core.video", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def test_cli_writes_video_csv_and_summary(corpus, default_model_dir, tmp_path):
    root, _ = corpus
    out, table = tmp_path / "annotated.mp4", tmp_path / "timeline.csv"
    proc = _cli(str(root / "face.webm"), "--out", str(out), "--csv", str(table), "--fps", "5", "--model",
                str(default_model_dir))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    text = proc.stdout
    assert "duration: 4.0 s" in text and "frames analysed: 20" in text and "frames without a face: 5" in text
    assert "dominant expression: " in text and "share of time: " in text
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    assert len(rows) == 20 and float(rows[1]["time_s"]) == pytest.approx(0.2)
    assert probe_video(out).width == 320


def test_cli_bad_file_and_bad_model(corpus, tmp_path):
    root, _ = corpus
    proc = _cli(str(root / "audio_only.mp4"))
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ") and "audio only" in errors[0]
    proc = _cli(str(root / "face.mp4"), "--model", str(tmp_path / "no_model"))
    assert proc.returncode == 2 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr
    proc = _cli(str(root / "face.mp4"), "--every", "0")
    assert proc.returncode == 1 and proc.stderr.startswith("error:")


def test_cli_applies_a_calibration_to_every_frame_and_refuses_another_models(corpus, default_model_dir,
                                                                             tiny_model_dir, tmp_path):
    from fer_core.inference.calibration import fit_calibration, model_fingerprint

    root, _ = corpus
    plain_csv, mine_csv, cal_file = tmp_path / "plain.csv", tmp_path / "mine.csv", tmp_path / "me.json"
    base = [str(root / "face.webm"), "--fps", "5", "--no-smoothing", "--model", str(default_model_dir)]
    assert _cli(*base, "--csv", str(plain_csv)).returncode == 0
    names = get_pipeline(default_model_dir).classifier.class_names
    rows = [r for r in csv.DictReader(plain_csv.open(encoding="utf-8")) if r["classified"] == "1" and r["label"]]
    probs = np.array([[float(r[f"p_{c}"]) for c in names] for r in rows])
    top = names[int(np.bincount(probs.argmax(axis=1)).argmax())]
    other = names[(names.index(top) + 1) % len(names)]
    unlike = np.full(len(names), 0.02)
    unlike[names.index(other)] = 0.9  # a face of another expression, far from these frames
    cal = fit_calibration(np.vstack([probs[:3], unlike / unlike.sum()]), [top] * 3 + [other], names,
                          model_name="default", model_fingerprint=model_fingerprint(default_model_dir))
    cal.save(cal_file)
    proc = _cli(*base, "--csv", str(mine_csv), "--calibration", str(cal_file))
    assert proc.returncode == 0, proc.stderr[-2000:]
    mine = [r for r in csv.DictReader(mine_csv.open(encoding="utf-8")) if r["classified"] == "1" and r["label"]]
    got = np.array([[float(r[f"p_{c}"]) for c in names] for r in mine])
    assert got.shape == probs.shape
    assert np.allclose(got, cal.apply(probs), atol=2e-3) and not np.allclose(got, probs, atol=2e-3)
    other = _cli(*base[:-2], "--model", str(tiny_model_dir), "--calibration", str(cal_file))
    errors = [line for line in other.stderr.splitlines() if line.startswith("error:")]
    assert other.returncode == 2 and errors == [
        "error: this calibration was made for another model (default); calibrate again with this one"]
