"""Teach page in AppTest: before training it names the starting model's classes the captures lack and offers
to keep them with faces from a dataset (issue 13), or says plainly that there is no dataset to take them from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fer_core.inference.card import load_card
from fer_core.owners import Visit, identify, space_for
from fer_core.training import jobs
from fer_core.training.config import keep_extra
from tests.app.apptest import no_exceptions, page, texts
from tests.data.test_keep_classes import write_fer_npz, write_png_captures
from tests.helpers import stop_all_jobs

SUBMIT = "FormSubmitter:train_form-Start training"
KEEP_LABEL = "Keep the starting model's other classes (adds {n} FER2013 faces of each)"


@pytest.fixture()
def teach_env(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One owner; captures of happy and a new wink; the tiny model (angry, happy, sad) selected; a tiny FER2013."""
    root = tmp_path / "captures"
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(root))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    monkeypatch.setenv("FER_DATASET_PATH", str(write_fer_npz(tmp_path / "fer2013.npz")))
    write_png_captures(root, {"happy": 6, "wink": 6})
    return root


@pytest.fixture()
def started(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The configs the page hands to the training queue (nothing trains)."""
    seen: list[Any] = []

    def fake_start(cfg, **kwargs):
        seen.append(cfg)
        return "not-a-job"

    monkeypatch.setattr(jobs, "start_training", fake_start)
    return seen


@pytest.fixture(autouse=True)
def _no_training_left():
    yield
    stop_all_jobs()


def _keep_boxes(at) -> list[Any]:
    return [c for c in at.checkbox if c.key == "train_keep"]


def test_teach_offers_to_keep_the_classes_the_captures_lack(teach_env: Path, started: list[Any]) -> None:
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    # ticked by default: it says what is kept, not the warning the tick answers
    assert "no longer recognise" not in texts(at)
    assert any("keeps what **tiny** knows of angry, sad" in s.value for s in at.success)
    box = at.checkbox(key="train_keep")
    assert box.label == KEEP_LABEL.format(n=50) and box.value is True  # on by default: a source is there
    assert "angry, sad" in box.help and "Training split" in box.help
    assert at.number_input(key="train_keep_n").value == 50
    at.number_input(key="train_keep_n").set_value(7).run()
    assert at.checkbox(key="train_keep").label == KEEP_LABEL.format(n=7)
    at.button(key=SUBMIT).click().run()
    no_exceptions(at)
    extra = keep_extra(started[-1])
    assert extra is not None and extra["classes"] == ["angry", "sad"] and extra["per_class"] == 7
    assert started[-1].data == str(teach_env)  # the captures folder, as before; the job builds its own copy
    # unticked: the captures alone, as before, and the warning says what is lost
    at.checkbox(key="train_keep").uncheck().run()
    assert not [n for n in at.number_input if n.key == "train_keep_n"]
    warning = next(w.value for w in at.warning if "no longer recognise" in w.value)
    assert "know only your 2 classes (happy, wink)" in warning
    assert warning.endswith("no longer recognise angry, sad. Capture pictures of those too, or keep them below.")
    assert not any("keeps what" in s.value for s in at.success)
    at.button(key=SUBMIT).click().run()
    assert keep_extra(started[-1]) is None and started[-1].extra == {}


def test_teach_says_which_classes_the_dataset_cannot_give(teach_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_DEFAULT_MODEL", "default")  # eight classes, contempt among them
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert any("knows of angry, disgust, fear, sad, surprise, neutral:" in s.value for s in at.success)
    assert "fear, sad, surprise, neutral" in at.checkbox(key="train_keep").help
    assert any(c.value == "FER2013 has no faces of contempt: the new model will not know it unless you capture some."
               for c in at.caption)


def test_teach_without_a_dataset_trains_on_the_captures_only(teach_env: Path, tmp_path: Path, started: list[Any],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_DATASET_PATH", str(tmp_path / "absent" / "fer2013.npz"))
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert not _keep_boxes(at)
    warning = next(w.value for w in at.warning if "no longer recognise" in w.value)
    assert warning.endswith("no longer recognise angry, sad. Capture pictures of those too to keep them.")
    note = next(i.value for i in at.info if "No face dataset" in i.value)
    assert note.startswith("No face dataset to borrow pictures of angry, sad from")
    assert "is not on this machine" in note and note.endswith("The new model is trained on your pictures only.")
    at.button(key=SUBMIT).click().run()
    no_exceptions(at)
    assert keep_extra(started[-1]) is None


def test_teach_offers_nothing_when_the_captures_cover_every_class(teach_env: Path) -> None:
    for cls in ("angry", "sad"):
        write_png_captures(teach_env, {cls: 3})
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    assert not _keep_boxes(at) and "no longer recognise" not in texts(at)


def test_a_private_owner_keeps_classes_from_their_own_captures(teach_env: Path, tmp_path: Path, started: list[Any],
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_OWNERS", "private")
    monkeypatch.setenv("FER_OWNER_ROOT", str(tmp_path / "owners"))
    at = page("pages/6_Teach.py").run()
    assert not _keep_boxes(at)  # the one-owner captures are not this visitor's: nothing of theirs yet
    space = space_for(identify("private", Visit(), browser_token=at.session_state["_owner_token"]))
    write_png_captures(space.captures, {"sad": 4, "wink": 4})
    at.run()
    no_exceptions(at)
    assert "knows of angry, happy" in texts(at)
    assert at.checkbox(key="train_keep").value is True
    at.button(key=SUBMIT).click().run()
    extra = keep_extra(started[-1])
    assert started[-1].data == str(space.captures) and extra is not None and extra["classes"] == ["angry", "happy"]


def test_teach_trains_a_model_that_keeps_the_other_classes(teach_env: Path, app_env: Path) -> None:
    at = page("pages/6_Teach.py").run()
    at.number_input(key="train_keep_n").set_value(6).run()  # outside the form: set before the form's fields
    at.text_input(key="train_name").input("kept_e2e")
    at.slider(key="train_epochs").set_value(2)
    at.button(key=SUBMIT).click().run()
    no_exceptions(at)
    job_id = at.session_state["teach_job"]
    ckpt = Path(jobs.get_job(job_id).meta["config"]["checkpoint_dir"])
    done = jobs.wait(job_id, 300)
    try:
        assert done.state == jobs.DONE, (done.error, done.log_tail[-10:])
        assert done.result == str(app_env / "kept_e2e"), done.result
        card = load_card(app_env / "kept_e2e")
        assert card.class_names == ["angry", "happy", "sad", "wink"]
        assert not ckpt.exists()  # the temporary training folder went with the job
        assert sorted(p.name for p in teach_env.iterdir()) == [".frames", "happy", "unsorted", "wink"]
        at.run()
        no_exceptions(at)
        table = at.dataframe[0].value
        assert list(table.loc[table["model"] == "kept_e2e", "classes"]) == ["angry, happy, sad, wink"]
    finally:
        import shutil

        shutil.rmtree(app_env / "kept_e2e", ignore_errors=True)
