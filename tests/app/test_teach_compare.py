"""The Teach page sets a finished fine-tune beside the model it started from, on the same held-out pictures,
and says plainly when the new one is worse; its list of mix-ups names only the classes the user captured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fer_core.owners import LOCAL
from fer_core.training import jobs
from tests.app.apptest import no_exceptions, page, texts
from tests.helpers import start_thread_job, stop_all_jobs
from webui.teach import comparison_lines


@pytest.fixture(autouse=True)
def _no_training_left():
    yield
    stop_all_jobs()


def _compared(new: float, start: float) -> dict:
    return {"n": 20, "n_own": 8, "own_classes": ["happy", "wink"], "start_model": "tiny",
            "models": {"new": {"accuracy": new, "own_accuracy": 0.5, "per_class": {}},
                       "start": {"accuracy": start, "own_accuracy": 0.25, "per_class": {}}}}


def test_comparison_lines_say_which_is_better() -> None:
    line, own, worse = comparison_lines(_compared(0.4, 0.7))
    assert worse and line == ("On the same 20 held-out pictures (8 of yours, 12 borrowed faces of the classes you "
                              "kept): the new model got **40%** right, **tiny** got **70%**.")
    assert own == "On your own classes (happy, wink): new model 50%, tiny 25%."
    assert not comparison_lines(_compared(0.7, 0.7))[2]


@pytest.mark.parametrize(("new", "start", "worse"), [(0.4, 0.7, True), (0.8, 0.7, False)])
def test_the_page_warns_when_the_new_model_is_worse(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    new: float, start: float, worse: bool) -> None:
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(tmp_path / "captures"))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "tiny")
    made = app_env / "nudged"
    shutil.copytree(app_env / "tiny", made)
    try:
        report = json.loads((made / "report.json").read_text())
        # the tiny model knows angry, happy, sad: a confusion of angry (not captured) must not be listed
        report["class_names"] = ["angry", "happy", "sad"]
        report["confusion_matrix"] = [[0, 5, 0], [0, 3, 1], [0, 0, 2]]
        report["compared"] = _compared(new, start) | {"own_classes": ["happy", "sad"]}
        (made / "report.json").write_text(json.dumps(report))
        jobs.wait(start_thread_job("train", "nudged", lambda progress: made, owner=LOCAL.key), 10)
        at = page("pages/6_Teach.py").run()
        no_exceptions(at)
        warned = [w.value for w in at.warning if "worse than tiny" in w.value]
        assert bool(warned) is worse
        if not worse:
            assert any("the new model got **80%** right, **tiny** got **70%**" in s.value for s in at.success)
        body = texts(at)
        assert "**happy** taken for **sad**" in body and "**angry** taken for" not in body
    finally:
        shutil.rmtree(made, ignore_errors=True)
