"""Capture and Teach pages in AppTest (real model, real files, real background training).

``webrtc_streamer`` cannot run in AppTest: a stand-in feeds real frames through the page's
real ``video_frame_callback``; the browser test (tests/e2e/test_capture.py) covers real WebRTC.
"""

from __future__ import annotations

import streamlit_webrtc

import re
import time
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from fer_core.data.curation import UNSORTED, counts
from fer_core.owners import LOCAL
from fer_core.training import jobs
from tests.app.apptest import StreamContext as _Ctx
from tests.app.apptest import no_exceptions, page, texts
from tests.app.test_live_callback import frame_640x480
from tests.captures import write_captures
from tests.helpers import start_thread_job, stop_all_jobs


class FakeStreamer:
    """Records each call and plays ``frames`` (``gap`` seconds apart) through the page's callback."""

    def __init__(self, frames: list[np.ndarray], turns: int = 0, gap: float = 0.0) -> None:
        self.frames, self.turns, self.gap = frames, turns, gap
        self.feed = True  # False: settings changes without replaying the frames (faster)
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[av.VideoFrame] = []

    def __call__(self, *args: Any, **kwargs: Any) -> _Ctx:
        self.calls.append(kwargs)
        for rgb in self.frames if self.feed else []:
            self.outputs.append(kwargs["video_frame_callback"](av.VideoFrame.from_ndarray(rgb, format="rgb24")))
            time.sleep(self.gap)
        return _Ctx(self.turns)


@pytest.fixture()
def capture_env(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "captures"
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(root))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    return root


@pytest.fixture(autouse=True)
def _no_training_left():
    yield
    stop_all_jobs()


# ---------------------------------------------------------------- Capture page


def test_capture_page_stopped(capture_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeStreamer([])
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    at = page("pages/5_Capture.py").run()
    no_exceptions(at)
    call = fake.calls[0]
    assert call["key"] == "capture" and call["async_processing"] is True
    assert call["rtc_configuration"] == {"iceServers": []} and callable(call["video_frame_callback"])
    body = texts(at)
    assert "Suggestion: no face yet" in body and "Saved: 0 / 20" in body
    assert any("camera is off" in i.value for i in at.info)
    pick = at.sidebar.selectbox(key="cap_class_pick")
    assert pick.options[:3] == ["angry", "happy", "sad"]  # the tiny model's classes
    # nothing preselected (issue 13): no class until the user picks one, and no capture before
    assert pick.value is None and at.button(key="cap_start").disabled
    assert any("Choose a class" in i.value for i in at.info) and str(capture_env) not in body
    pick.select("happy").run()
    assert "your **happy** pictures" in texts(at) and not at.button(key="cap_start").disabled


def test_capture_page_refuses_bad_class_names(capture_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", FakeStreamer([]))
    at = page("pages/5_Capture.py").run()
    at.sidebar.selectbox(key="cap_class_pick").select("➕ New class…").run()
    for bad in ("../x", "/etc/passwd", "a/b"):
        at.sidebar.text_input(key="cap_class_new").input(bad).run()
        no_exceptions(at)
        assert at.error and "not allowed" in at.error[0].value
        assert at.button(key="cap_start").disabled
    at.sidebar.text_input(key="cap_class_new").input("   ").run()
    assert at.error and at.button(key="cap_start").disabled
    at.sidebar.text_input(key="cap_class_new").input("Big Smile").run()
    assert not at.error and not at.button(key="cap_start").disabled
    assert "your **big_smile** pictures" in texts(at)
    assert not capture_env.exists() or not any(capture_env.iterdir())


def test_capture_page_saves_crops_while_streaming(capture_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                  astronaut: np.ndarray) -> None:
    frame = frame_640x480(astronaut)
    fake = FakeStreamer([frame] * 7, turns=2, gap=0.3)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    at = page("pages/5_Capture.py").run()
    assert counts(capture_env) == {}  # streaming alone saves nothing
    fake.feed = False
    at.sidebar.selectbox(key="cap_class_pick").select("➕ New class…").run()
    at.sidebar.text_input(key="cap_class_new").input("wink").run()
    at.sidebar.number_input(key="cap_interval").set_value(0.5).run()
    at.sidebar.number_input(key="cap_count").set_value(2).run()
    at.sidebar.checkbox(key="cap_save_frame").check().run()
    at.button(key="cap_start").click().run()
    assert counts(capture_env) == {} and at.session_state["capture_session"].snapshot().armed
    fake.feed = True
    at.run()  # the frames of this run are captured
    no_exceptions(at)
    body = texts(at)
    assert "Saved: 2 / 2" in body, body
    assert counts(capture_env) == {"wink": 2}
    assert len(list((capture_env / ".frames" / "wink").glob("*.jpg"))) == 2
    assert "Suggestion: " in body and "Suggestion: no face yet" not in body
    out = fake.outputs[-1].to_ndarray(format="rgb24")
    assert out.shape == frame.shape and not np.array_equal(out, frame)  # boxed and counted on the video
    assert at.get("image"), "the last picture is shown"


# ---------------------------------------------------------------- Teach page


def test_teach_page_without_pictures(capture_env: Path) -> None:
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert any("No pictures yet" in i.value for i in at.info)
    assert at.button(key="FormSubmitter:train_form-Start training").disabled


def test_teach_review_relabel_delete_and_paging(capture_env: Path, astronaut: np.ndarray) -> None:
    write_captures(capture_env, astronaut, classes=("happy", "sad"), per_class=30)
    (capture_env / UNSORTED).mkdir()
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert counts(capture_env) == {"happy": 30, "sad": 30, UNSORTED: 0}
    at.selectbox(key="rev_per_page").select(12).run()
    assert len(at.get("image")) == 12
    pager = at.get("pagination")[0]
    assert pager.num_pages == 3
    pager.set_value(3).run()
    checks = [c for c in at.checkbox if c.key.startswith("sel::happy::")]
    assert len(checks) == 6  # 30 = 12 + 12 + 6
    # relabel two of them into a new class
    checks[0].check()
    checks[1].check()
    at.selectbox(key="rev_target").select("➕ New class…").run()
    at.text_input(key="rev_target_new").input("My Wink").run()
    at.button(key="rev_move").click().run()
    no_exceptions(at)
    assert counts(capture_env)["happy"] == 28 and counts(capture_env)["my_wink"] == 2
    assert any("Moved 2 picture(s)" in s.value for s in at.success)
    # a class name that is a path is refused, nothing moves
    at.selectbox(key="rev_per_page").select(48).run()
    first = [c for c in at.checkbox if c.key.startswith("sel::happy::")][0]
    first.check()
    at.text_input(key="rev_target_new").input("../../etc").run()
    at.button(key="rev_move").click().run()
    assert at.error and "not allowed" in at.error[0].value
    assert counts(capture_env)["happy"] == 28
    # delete the selected one: not before it is confirmed
    at.button(key="rev_delete").click().run()
    assert counts(capture_env)["happy"] == 28 and any("Yes, delete them" in w.value for w in at.warning)
    at.checkbox(key="rev_delete_sure").check()
    at.button(key="rev_delete").click().run()
    no_exceptions(at)
    assert counts(capture_env)["happy"] == 27
    assert any("Deleted 1 picture(s)" in s.value for s in at.success)


def test_teach_warns_about_small_and_unbalanced_classes(capture_env: Path, astronaut: np.ndarray) -> None:
    write_captures(capture_env, astronaut, classes=("happy",), per_class=25)
    write_captures(capture_env / "_", astronaut, classes=("sad",), per_class=3)
    (capture_env / "_" / "sad").rename(capture_env / "sad")
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    warnings = " ".join(w.value for w in at.warning)
    assert "'sad' has only 3 images" in warnings and "unbalanced" in warnings


def test_teach_trains_in_the_background_and_manages_models(capture_env: Path, app_env: Path,
                                                           astronaut: np.ndarray) -> None:
    write_captures(capture_env, astronaut)  # happy, sad, wink x 6
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    at.text_input(key="train_name").input("mine_e2e")
    at.slider(key="train_epochs").set_value(2)
    at.button(key="FormSubmitter:train_form-Start training").click().run()
    no_exceptions(at)
    job_id = at.session_state["teach_job"]
    info = jobs.get_job(job_id)
    assert info is not None and info.name == "mine_e2e"
    # a second browser session sees the same job (the registry is process-wide, not per session)
    other = page("pages/6_Teach.py").run()
    assert "Training mine_e2e" in texts(other) or other.get("progress")
    done = jobs.wait(job_id, 300)
    assert done.state == jobs.DONE, (done.error, done.log_tail[-10:])
    at.run()
    no_exceptions(at)
    assert any("finished" in s.value for s in at.success)
    assert at.get("vega_lite_chart"), "learning curve"
    body = texts(at)
    assert "validation pictures** right" in body
    assert "95% range with other faces like these: accuracy" in body  # a few dozen pictures: a wide range
    assert (app_env / "mine_e2e" / "model.json").is_file()
    # it is in the picker and can be chosen
    at.button(key="train_use").click().run()
    assert at.sidebar.selectbox(key="model_picker").value == "mine_e2e"
    # and deleted
    at.selectbox(key="del_model").select("mine_e2e").run()
    at.checkbox(key="del_sure").check().run()
    at.button(key="del_go").click().run()
    no_exceptions(at)
    assert not (app_env / "mine_e2e").exists()
    assert "mine_e2e" not in at.sidebar.selectbox(key="model_picker").options


def test_teach_shows_a_failed_training(capture_env: Path) -> None:
    def fails(progress):
        progress({"event": "status", "message": "loading"})
        raise ValueError("no usable images in the capture folder")

    jobs.wait(start_thread_job("train", "doomed", fails, owner=LOCAL.key), 10)
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert any("doomed: failed" in e.value and "no usable images" in e.value for e in at.error)


def test_capture_page_auto_label_mode(capture_env: Path, monkeypatch: pytest.MonkeyPatch,
                                      astronaut: np.ndarray) -> None:
    """Three classes: the top probability is always >= 1/3, so 0.30 trusts the model and 0.99 does not."""
    fake = FakeStreamer([frame_640x480(astronaut)] * 2, turns=1)
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", fake)
    at = page("pages/5_Capture.py").run()
    fake.feed = False
    at.sidebar.radio(key="cap_mode").set_value("Auto-label with the model").run()
    assert not at.sidebar.get("selectbox") or all(s.key != "cap_class_pick" for s in at.sidebar.selectbox)
    assert f"or to **{UNSORTED}**" in texts(at)
    for threshold, expect_unsorted in ((0.30, False), (0.99, True)):
        at.sidebar.slider(key="cap_threshold").set_value(threshold)
        at.sidebar.number_input(key="cap_count").set_value(1).run()
        at.button(key="cap_start").click().run()
        fake.feed = True
        at.run()
        fake.feed = False
        no_exceptions(at)
        last = at.session_state["capture_session"].snapshot().last
        assert last is not None and last.label in ("angry", "happy", "sad")
        assert (last.class_name == UNSORTED) == expect_unsorted, (threshold, last)
        assert last.path.parent == capture_env / last.class_name
    assert sum(counts(capture_env).values()) == 2


def test_teach_review_keeps_its_place_after_a_move(capture_env: Path, astronaut: np.ndarray) -> None:
    """Move one of two unsorted pictures to a new class: the review stays on unsorted with fresh counts,
    and the remaining picture can be ticked and deleted there (issue 13: it jumped to another class)."""
    write_captures(capture_env, astronaut, classes=("fear", "happy", UNSORTED), per_class=2)
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    at.selectbox(key="rev_class").select(UNSORTED).run()
    shown = f"{UNSORTED} (2)"  # what the browser's box shows now; it changes only when the server pushes a label
    checks = [c for c in at.checkbox if c.key.startswith(f"sel::{UNSORTED}::")]
    assert len(checks) == 2
    checks[0].check()
    at.selectbox(key="rev_target").select("➕ New class…").run()
    at.text_input(key="rev_target_new").input("sad").run()
    at.button(key="rev_move").click().run()
    no_exceptions(at)
    assert counts(capture_env) == {"fear": 2, "happy": 2, "sad": 1, UNSORTED: 1}
    box = at.selectbox(key="rev_class")
    shown = box.proto.raw_value if box.proto.set_value else shown
    # A stale "unsorted (2)" in the browser matches no option on the next click: Streamlit falls back
    # to the first class (the reported jump to "fear (2)").
    assert shown == f"{UNSORTED} (1)" and box.value == UNSORTED
    left = [c for c in at.checkbox if c.key.startswith(f"sel::{UNSORTED}::")]
    assert len(left) == 1 and not left[0].value  # the moved one's tick went with it
    left[0].check().run()
    assert at.selectbox(key="rev_class").value == UNSORTED
    at.checkbox(key="rev_delete_sure").check()
    at.button(key="rev_delete").click().run()
    no_exceptions(at)
    assert not [w for w in at.warning if "Select pictures first" in w.value]
    assert counts(capture_env) == {"fear": 2, "happy": 2, "sad": 1, UNSORTED: 0}
    assert any("Deleted 1 picture(s) from unsorted" in s.value for s in at.success)


def test_teach_panel_after_deleting_the_model_just_trained(capture_env: Path, app_env: Path) -> None:
    """The finished-training panel must not offer "Use it now" for a model deleted since (issue 13)."""
    import shutil

    made = app_env / "just_made"
    shutil.copytree(app_env / "tiny", made)
    jobs.wait(start_thread_job("train", "just_made", lambda progress: made, owner=LOCAL.key), 10)
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert any("just_made: finished" in s.value for s in at.success) and at.button(key="train_use")
    at.selectbox(key="del_model").select("just_made").run()
    at.checkbox(key="del_sure").check().run()
    at.button(key="del_go").click().run()
    no_exceptions(at)
    assert not made.exists()
    assert not any("finished" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "train_use"]
    assert any("just_made: finished" in i.value and "deleted" in i.value for i in at.info)


def test_capture_new_class_named_like_a_known_one(capture_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """"smile" is a new class of its own (it went to happy/ before); "Happiness" is happy, and says so."""
    monkeypatch.setattr(streamlit_webrtc, "webrtc_streamer", FakeStreamer([]))
    at = page("pages/5_Capture.py").run()
    at.sidebar.selectbox(key="cap_class_pick").select("➕ New class…").run()
    at.sidebar.text_input(key="cap_class_new").input("smile").run()
    no_exceptions(at)
    assert "your **smile** pictures" in texts(at) and "your **happy** pictures" not in texts(at)
    assert at.session_state["capture_session"].config.class_name == "smile"
    at.sidebar.text_input(key="cap_class_new").input("Happiness").run()
    assert "your **happy** pictures" in texts(at)
    assert any("another spelling of **happy**" in c.value for c in at.sidebar.caption)


def test_teach_review_labels_say_when_not_the_file_name(capture_env: Path, astronaut: np.ndarray) -> None:
    """A file name means nothing to a person; when the picture was taken does."""
    write_captures(capture_env, astronaut, classes=("happy", "sad"), per_class=3)
    for i, f in enumerate(sorted((capture_env / "happy").glob("*.jpg"))):
        f.rename(f.with_name(f"20261126-004512-{i:04d}-abc{i:03d}.jpg"))
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    labels = [c.label for c in at.checkbox if c.key.startswith("sel::happy::")]
    assert len(labels) == 3 and all(re.fullmatch(r"\d\d:\d\d:\d\d", lb) for lb in labels), labels


def test_teach_learning_curves_are_single_views_with_the_legend_above(capture_env: Path) -> None:
    """A concatenated chart cannot fit its container (Vega warns), a bottom legend covered the text below and
    one at the side narrowed the plot in Teach's two columns: the legend goes above the plot, in the height
    the page gives the chart. The curves are the Training metrics page's (``webui.charts.learning_curve_chart``)."""
    import json as _json

    def two_epochs(progress):
        for e in (1, 2):
            progress({"event": "epoch", "phase": "head", "epoch": e, "total_epochs": 2, "loss": 1.0, "accuracy": 0.5,
                      "val_loss": 1.1, "val_accuracy": 0.4, "lr": 0.001, "seconds": 1.0})
        raise ValueError("stopped here on purpose")

    jobs.wait(start_thread_job("train", "curves", two_epochs, owner=LOCAL.key), 10)
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    specs = [_json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    curves = [s for s in specs if s.get("title") in ("Accuracy per epoch", "Loss per epoch")]
    assert len(curves) == 2, [s.get("title") for s in specs]
    for spec in curves:
        assert not {"hconcat", "vconcat", "concat"} & set(spec)
        legends = [layer["encoding"][ch]["legend"] for layer in spec["layer"] for ch in ("color", "stroke")
                   if layer.get("encoding", {}).get(ch, {}).get("legend")]
        assert legends and all(lg["orient"] == "top" for lg in legends)  # not below, over the text


def test_teach_figures_come_with_their_counts_and_reasons(capture_env: Path, app_env: Path) -> None:
    """5 test pictures are named and warned about; 4 of 5 epochs is called early stopping; a flat training
    accuracy is explained (issue 13)."""
    import json
    import shutil

    made = app_env / "few_pics"
    shutil.copytree(app_env / "tiny", made)
    report = json.loads((made / "report.json").read_text())
    report.update(accuracy=0.8, n=5, split="validation")
    (made / "report.json").write_text(json.dumps(report))
    card = json.loads((made / "model.json").read_text())
    card["metrics"] = {"validation": {"accuracy": 0.8, "n": 5}}
    (made / "model.json").write_text(json.dumps(card))

    def short_run(progress):
        progress({"event": "phase", "phase": "head", "epochs": 5})
        for e in (1, 2, 3, 4):
            progress({"event": "epoch", "phase": "head", "epoch": e, "total_epochs": 5, "loss": 1.5,
                      "accuracy": 0.526, "val_loss": 1.5, "val_accuracy": 0.4, "lr": 1e-4, "seconds": 1.0})
        return made

    jobs.wait(start_thread_job("train", "few_pics", short_run, owner=LOCAL.key), 10)
    try:
        at = page("pages/6_Teach.py").run()
        no_exceptions(at)
        body = texts(at)
        assert "80.0% of 5 validation pictures" in body
        assert any("only 5 pictures" in w.value for w in at.warning)
        assert "stopped after 4 of 5 epochs" in body and "early stopping" in body
        assert "Training accuracy stayed at 52.6%" in body and "not a fault" in body
        table = at.dataframe[-1].value
        assert list(table.loc[table["model"] == "few_pics", "tested on"]) == [5]
    finally:
        shutil.rmtree(made, ignore_errors=True)


def test_teach_says_which_classes_a_fine_tune_would_drop(capture_env: Path, astronaut: np.ndarray, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # no dataset to keep them with (keeping them: tests/app/test_teach_keep.py)
    monkeypatch.setenv("FER_DATASET_PATH", str(tmp_path / "absent.npz"))
    write_captures(capture_env, astronaut, classes=("happy", "sad"), per_class=3)
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    warning = next(w.value for w in at.warning if "no longer recognise" in w.value)
    assert "know only your 2 classes (happy, sad)" in warning
    assert warning.endswith("no longer recognise angry. Capture pictures of those too to keep them.")  # tiny: 3 classes
