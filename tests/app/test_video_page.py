"""Video page with the real model: a face video is analysed in the background and comes back with the
annotated video, the timeline chart, the share of time and both downloads; hostile files get one
``st.error`` line; a second upload cancels the first analysis."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.app.apptest import no_exceptions, page, texts
from tests.corpus.make_bad_videos import FRAMES, NO_FACE, make_video_corpus

PAGE = "pages/7_Video.py"


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("page_videos")
    make_video_corpus(root)
    return root


def run_until_done(at, timeout: float = 180.0):
    """Rerun the page (as the progress fragment makes the browser do) until the analysis is over."""
    deadline = time.monotonic() + timeout
    at.run()
    while time.monotonic() < deadline:
        job = at.session_state["video_job"] if "video_job" in at.session_state else None
        if job is None or not job.running:
            return at.run()
        time.sleep(0.3)
    raise AssertionError("the video analysis did not finish")


def upload(at, path: Path, name: str | None = None, mime: str = "video/mp4"):
    at.file_uploader(key="video_upload").set_value((name or path.name, path.read_bytes(), mime))
    return at


def test_empty_state(app_env: Path) -> None:
    at = page(PAGE).run()
    no_exceptions(at)
    up = at.file_uploader(key="video_upload")
    assert up.label == "Video" and not up.accept_multiple_files
    assert {t.lstrip(".") for t in up.allowed_type} >= {"mp4", "webm", "mov", "mkv", "avi"}
    assert any("Choose a video" in i.value for i in at.info)
    assert at.sidebar.selectbox(key="video_rate").value == "Every frame"


def test_face_video_gets_timeline_share_and_downloads(app_env: Path, videos: Path) -> None:
    at = page(PAGE).run()
    upload(at, videos / "face.webm", mime="video/webm")
    at.run()
    no_exceptions(at)
    assert at.get("progress") or not at.session_state["video_job"].running  # progress shown while it runs
    at = run_until_done(at)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Frames analysed"] == str(FRAMES)
    assert metrics["Frames without a face"] == str(len(NO_FACE))
    assert metrics["Duration"] == "4.0 s" and metrics["Dominant expression"] == "happy"  # the astronaut smiles
    assert len(at.get("video")) == 1
    charts = at.get("vega_lite_chart")
    assert len(charts) == 2, "the timeline and the share of time"
    timeline, share = (c.proto.spec for c in charts)
    assert '"vconcat"' in timeline and "Expression over time" in timeline
    assert "Share of time per expression" in share
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Download timeline (CSV)", "Download annotated video (MP4)"]
    job = at.session_state["video_job"]
    assert job.output.csv.decode().count("\n") == FRAMES + 1
    assert job.output.video[4:8] == b"ftyp"


def test_lower_rate_analyses_fewer_frames(app_env: Path, videos: Path) -> None:
    at = page(PAGE).run()
    at.sidebar.selectbox(key="video_rate").set_value("2 a second")
    upload(at, videos / "face.mp4")
    at = run_until_done(at)
    no_exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Frames analysed"] == "8" and metrics["Frames without a face"] == "2"


@pytest.mark.parametrize("name", ["audio_only.mp4", "random.mp4", "truncated.mp4", "zero_frames.avi",
                                  "huge_resolution.mkv", "playlist.mp4"])
def test_hostile_video_gets_one_error_line(app_env: Path, videos: Path, name: str) -> None:
    at = page(PAGE).run()
    upload(at, videos / name)
    at = run_until_done(at)
    no_exceptions(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"{name}: ") and "\n" not in errors[0], errors[0]
    # the upload's name, not the temp file
    assert "/tmp" not in errors[0] and "input" not in errors[0].split(": ", 1)[0]
    assert not at.get("download_button") and not at.get("video")


def test_second_upload_cancels_the_first(app_env: Path, videos: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = page(PAGE).run()
    upload(at, videos / "face.mkv").run()
    first = at.session_state["video_job"]
    upload(at, videos / "face.avi").run()
    second = at.session_state["video_job"]
    assert second is not first and first.cancel.is_set()
    assert first.join(60), "the cancelled analysis stops"
    at = run_until_done(at)
    no_exceptions(at)
    assert at.session_state["video_job"] is second and second.output is not None
    assert second.output.result.info.container == "avi"
    assert "Frames analysed" in {m.label for m in at.metric}


def test_removing_the_upload_cancels(app_env: Path, videos: Path) -> None:
    at = page(PAGE).run()
    upload(at, videos / "face.mp4").run()
    job = at.session_state["video_job"]
    at.file_uploader(key="video_upload").set_value(None).run()
    no_exceptions(at)
    assert job.cancel.is_set() and "video_job" not in at.session_state
    assert "Choose a video" in texts(at)


@pytest.fixture(scope="module")
def pipe(default_model_dir: Path):
    from fer_core.inference.pipeline import get_pipeline

    return get_pipeline(default_model_dir)


def _spooled(path: Path):
    import io

    from webui.video import spool

    return spool(io.BytesIO(path.read_bytes()), path.name)


def test_abandoned_jobs_free_their_slots_and_the_owner_keeps_one(videos: Path, pipe) -> None:
    """Visitors who upload and close the tab must not hold the analysis slots (issue 36): with every slot
    taken by jobs whose session is gone, a present visitor's job still runs to its end. A second job of the
    same owner stops the first; another owner's job is left alone; the spooled upload is removed."""
    from fer_core.inference.stream import StreamOptions
    from webui.video import MAX_PARALLEL, VideoJob

    def gone() -> bool:
        return False

    left = [VideoJob(("gone", i), "face.mkv", _spooled(videos / "face.mkv"), pipe, StreamOptions(), alive=gone,
                     owner=f"left-{i}", grace_s=0.0) for i in range(MAX_PARALLEL)]
    present = VideoJob("here", "face.avi", _spooled(videos / "face.avi"), pipe, StreamOptions(), owner="ann")
    assert present.join(180) and present.output is not None and present.error is None
    for job in left:
        assert job.join(60) and job.abandoned and job.output is None
    again = VideoJob("again", "face.avi", _spooled(videos / "face.avi"), pipe, StreamOptions(), owner="ann")
    other = VideoJob("bob", "face.avi", _spooled(videos / "face.avi"), pipe, StreamOptions(), owner="bob")
    newest = VideoJob("newest", "face.mkv", _spooled(videos / "face.mkv"), pipe, StreamOptions(), owner="ann")
    assert again.cancel.is_set() and not other.cancel.is_set() and not newest.cancel.is_set()
    for job in (again, other, newest):
        assert job.join(180)
    assert other.output is not None and newest.output is not None
    assert not any(job.source.parent.exists() for job in (*left, present, again, other, newest))


def test_the_page_promises_the_size_the_server_accepts(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FER_MAX_VIDEO_MB above the server's upload limit: the page shows, and its uploader enforces, the
    server's limit, so a larger file is refused by the uploader with its message, not by a bare 413."""
    import streamlit as st

    monkeypatch.setenv("FER_MAX_VIDEO_MB", "100000")
    at = page(PAGE).run()
    no_exceptions(at)
    server_mb = int(st.get_option("server.maxUploadSize"))
    assert f"Up to {server_mb} MB" in texts(at) and "100000" not in texts(at)
