"""Two visitors of one server (FER_OWNERS=private) in AppTest: each sees only their own captures,
models and training jobs, can touch only those, and the Dataset page reads none of the other's files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_core.owners import Space, Visit, identify, space_for
from fer_core.training import jobs
from tests.app.apptest import no_exceptions, page, texts
from tests.captures import write_captures
from tests.helpers import start_thread_job, stop_all_jobs


@pytest.fixture()
def private_env(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FER_OWNERS", "private")
    monkeypatch.setenv("FER_OWNER_ROOT", str(tmp_path / "owners"))
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(tmp_path / "captures"))  # the one-owner folder: unused here
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    return tmp_path / "owners"


@pytest.fixture(autouse=True)
def _no_jobs_left():
    yield
    stop_all_jobs()


def _space(at) -> Space:
    """The visitor's folders, from the token their session holds (AppTest sends no cookies)."""
    return space_for(identify("private", Visit(), browser_token=at.session_state["_owner_token"]))


def test_two_visitors_see_and_touch_only_their_own(private_env: Path, app_env: Path, astronaut: np.ndarray):
    ann, bob = page("pages/6_Teach.py").run(), page("pages/6_Teach.py").run()
    no_exceptions(ann)
    no_exceptions(bob)
    ann_space, bob_space = _space(ann), _space(bob)
    assert ann_space.captures != bob_space.captures
    write_captures(ann_space.captures, astronaut, classes=("happy", "sad"), per_class=3)
    shutil.copytree(app_env / "tiny", ann_space.models / "anns_model")
    made = ann_space.models / "anns_model"
    jobs.wait(start_thread_job("train", "anns_model", lambda progress: made, owner=ann_space.owner.key), 10)
    ann.run()
    bob.run()
    no_exceptions(ann)
    no_exceptions(bob)
    # Ann: her pictures, her model in the picker and under "Your models", her finished training
    assert "No pictures yet" not in texts(ann) and ann.selectbox(key="rev_class").options
    assert "anns_model" in ann.sidebar.selectbox(key="model_picker").options
    assert "anns_model" in ann.selectbox(key="del_model").options
    assert any("anns_model: finished" in s.value for s in ann.success)
    # Bob: none of it
    assert "No pictures yet" in texts(bob)
    assert "anns_model" not in bob.sidebar.selectbox(key="model_picker").options
    assert "No models of your own yet" in texts(bob) and "anns_model" not in texts(bob)
    assert not [b for b in bob.button if b.key == "train_use"]
    # the shipped models are everyone's and nobody's to delete
    assert {"default", "tiny"} <= set(bob.sidebar.selectbox(key="model_picker").options)
    assert "shared by everyone on this server" in texts(bob)
    # Bob's page cannot reach Ann's files by name either
    from webui.models import delete_model_folder

    assert "no model named" in (delete_model_folder("anns_model", bob_space) or "")
    assert made.is_dir()
    assert not jobs.cancel(jobs.list_jobs("train", ann_space.owner.key)[0].id, owner=bob_space.owner.key)


def test_the_dataset_page_reads_only_the_visitors_own_captures(private_env: Path, astronaut: np.ndarray):
    ann, bob = page("pages/3_Dataset.py").run(), page("pages/3_Dataset.py").run()
    ann_space = _space(ann)
    write_captures(ann_space.captures, astronaut, classes=("happy", "sad"), per_class=3)
    for path in (str(ann_space.captures), str(ann_space.captures.parent), str(private_env), "/etc",
                 f"{_space(bob).captures}/../../{ann_space.owner.key}/captures"):
        bob.text_input(key="dataset_path").input(path).run()
        no_exceptions(bob)
        assert any("outside the dataset folders" in e.value for e in bob.error), path
    ann.text_input(key="dataset_path").input(str(ann_space.captures)).run()
    no_exceptions(ann)
    assert not ann.error and "happy" in texts(ann)


def test_the_local_owner_sees_only_its_own_jobs_and_is_not_blocked_by_others(
        app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, astronaut: np.ndarray):
    """One server, the machine's own user (AppTest: no request, so local in auto mode) beside a visitor whose
    training runs: the visitor's job, its model path and its Cancel button are not on the local Teach page, and
    the local Start is not held back by it."""
    import threading

    monkeypatch.setenv("FER_OWNER_ROOT", str(tmp_path / "owners"))
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(tmp_path / "captures"))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    write_captures(tmp_path / "captures", astronaut, classes=("happy", "sad"), per_class=3)
    visitor = space_for(identify("private", Visit(), browser_token="someone-else"))
    release = threading.Event()
    secret_model = visitor.models / "visitors_secret_model"

    def train(progress) -> Path:
        release.wait(60)
        return secret_model

    start_thread_job("train", "visitors_secret_model", train, owner=visitor.owner.key)
    try:
        me = page("pages/6_Teach.py").run()
        no_exceptions(me)
        assert "visitors_secret_model" not in texts(me) and str(visitor.models) not in texts(me)
        assert not [b for b in me.button if "Cancel" in str(b.label)]
        start = next(b for b in me.button if b.label == "Start training")
        assert not start.disabled, "another owner's training blocks the local user's Start"
    finally:
        release.set()


def test_the_dataset_page_reads_nothing_beside_or_above_the_dataset(app_env: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch,
                                                                     astronaut: np.ndarray):
    """The issue's layout: the dataset at srv/var/fer2013.npz, the single owner's captures at srv/captures and
    visitors' folders at srv/owners. A visitor reads the dataset and their own captures, nothing else."""
    from tests.helpers import write_npz

    srv = tmp_path / "srv"
    dataset = write_npz((srv / "var").mkdir(parents=True) or srv / "var" / "fer2013.npz", n_per_class=2)
    monkeypatch.setenv("FER_DATASET_PATH", str(dataset))
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(srv / "captures"))
    monkeypatch.setenv("FER_OWNER_ROOT", str(srv / "owners"))
    monkeypatch.setenv("FER_OWNERS", "private")
    write_captures(srv / "captures", astronaut, classes=("happy",), per_class=2)
    ann, bob = page("pages/3_Dataset.py").run(), page("pages/3_Dataset.py").run()
    write_captures(_space(ann).captures, astronaut, classes=("happy",), per_class=2)
    for path in (str(srv / "captures"), str(_space(ann).captures), str(srv), str(srv / "var" / ".." / "owners")):
        bob.text_input(key="dataset_path").input(path).run()
        no_exceptions(bob)
        assert any("outside the dataset folders" in e.value for e in bob.error), path
        shown = " ".join(e.value.replace(path, "") for e in bob.error)  # what the page adds to the typed path
        assert str(srv / "var") not in shown and str(_space(bob).captures) not in shown, shown
    for path in (str(dataset), str(_space(bob).captures)):
        bob.text_input(key="dataset_path").input(path).run()
        assert not any("outside the dataset folders" in e.value for e in bob.error), path


def test_stale_visitors_are_swept_whole_in_the_background(private_env: Path, monkeypatch: pytest.MonkeyPatch):
    """A visitor unseen for longer than the time to live loses their whole folder, models included, without a
    page run doing the walk; a fresh visitor keeps theirs."""
    import os
    import threading
    import time

    monkeypatch.setenv("FER_VISITOR_TTL_HOURS", "1")
    stale = space_for(identify("private", Visit(), browser_token="gone-for-a-day"))
    (stale.models / "their_model").mkdir()
    (stale.captures / "happy").mkdir()
    old = time.time() - 2 * 3600
    os.utime(stale.captures.parent / ".last_seen", (old, old))
    at = page("pages/6_Teach.py").run()
    no_exceptions(at)
    # AppTest brings no cookie: the owner is this tab, and the page must not promise more
    assert "Only this tab sees" in texts(at) and "Only this browser" not in texts(at)
    fresh = _space(at).captures.parent
    for _ in range(120):
        if not stale.captures.parent.exists():
            break
        time.sleep(0.5)
    assert not stale.captures.parent.exists() and fresh.is_dir()
    assert any(t.name == "fer-visitor-sweep" for t in threading.enumerate())
