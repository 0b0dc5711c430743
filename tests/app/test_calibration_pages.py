"""A person's calibration beyond the live page: the Video page analyses through it and says so, and the
Capture page's auto-labels follow it (the shipped model, a calibration fit from its own output)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.app.apptest import no_exceptions, page, texts
from tests.app.test_video_page import run_until_done, upload
from tests.corpus.make_bad_videos import make_video_corpus


@pytest.fixture()
def calibrated(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray):
    """The one owner's calibration for the default model: the astronaut's face means surprise, a face at rest
    means neutral. Returns where it is to be kept and the calibration."""
    from fer_core.inference.calibration import fit_calibration, model_fingerprint
    from fer_core.inference.pipeline import get_pipeline
    from tests.truth import NEUTRAL

    monkeypatch.setenv("FER_OWNERS", "single")
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(tmp_path / "captures"))
    model_dir = app_env / "default"
    pipe = get_pipeline(model_dir, "haar")
    probs = [pipe.whole(face).probabilities for face in (astronaut, NEUTRAL[0].face())]
    names = list(pipe.classifier.class_names)
    rows = np.array([[p[c] for c in names] for p in probs])
    cal = fit_calibration(rows[[0, 0, 1, 1]], ["surprise", "surprise", "neutral", "neutral"], names,
                          model_name="default", model_fingerprint=model_fingerprint(model_dir))
    return tmp_path / "calibrations" / "default.json", cal


def _mean(job, name: str) -> float:
    rows = [r for r in job.output.result.rows if r.probabilities]
    return float(np.mean([r.probabilities[name] for r in rows]))


def test_the_video_page_analyses_through_the_visitors_calibration(calibrated, tmp_path: Path) -> None:
    path, cal = calibrated
    make_video_corpus(tmp_path / "videos")
    at = page("pages/7_Video.py").run()
    upload(at, tmp_path / "videos" / "face.mp4")
    at = run_until_done(at)
    no_exceptions(at)
    plain = _mean(at.session_state["video_job"], "surprise")
    assert "calibrated for you" not in texts(at)

    path.parent.mkdir(parents=True)
    cal.save(path)  # made on the live page meanwhile: the same upload is analysed again, through it
    at = run_until_done(at)
    no_exceptions(at)
    job = at.session_state["video_job"]
    assert "calibrated for you (2 expressions)" in texts(at)
    assert _mean(job, "surprise") > plain, "the astronaut's face leans to the class this person calibrated"


def test_the_capture_page_auto_labels_through_the_visitors_calibration(calibrated,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import streamlit_webrtc

    from tests.app.apptest import StreamContext

    # AppTest cannot run WebRTC: a stream that is not playing stands in for it
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", lambda *args, **kwargs: StreamContext(0))
    path, cal = calibrated
    at = page("pages/5_Capture.py").run()
    no_exceptions(at)
    assert at.session_state["capture_session"]._pipeline.calibration is None
    path.parent.mkdir(parents=True)
    cal.save(path)
    at.run()
    no_exceptions(at)
    assert "calibrated for you (2 expressions)" in texts(at)
    assert at.session_state["capture_session"]._pipeline.calibration is not None
