"""fer_core.model_folder: which folder a model name is, one writer for a whole model folder, readers
that report damage, and the file names spelled nowhere else in the engine."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from fer_core import model_folder as mf
from fer_core.errors import ModelError
from fer_core.inference.card import ModelCard, load_card

ROOT = Path(__file__).resolve().parent.parent


class _FakeNet:
    """Stands in for a keras.Model: ``save`` writes a file where it is told."""

    def save(self, filepath: str) -> None:
        Path(filepath).write_bytes(b"PK fake")


def test_the_writer_writes_every_file_and_the_readers_read_them(tmp_path):
    card = ModelCard(name="m", class_names=["a", "b"], input_size=(48, 48))
    rows = [{"phase": "train", "epoch": 1, "loss": 1.0}]
    out = mf.write_model_folder(tmp_path / "m", _FakeNet(), card, rows, report={"accuracy": 0.5})
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [mf.MODEL_FILE, mf.CARD_FILE, mf.HISTORY_FILE, mf.REPORT_FILE])  # no temporary file left
    assert mf.is_model_folder(out) and mf.has_history(out) and mf.has_report(out)
    assert load_card(out).class_names == ["a", "b"]
    assert json.loads((out / mf.HISTORY_FILE).read_text()) == {"epochs": rows}
    assert mf.read_history(out) == rows
    assert mf.read_report(out) == (out / mf.REPORT_FILE, {"accuracy": 0.5})
    other = mf.write_report(out, {"accuracy": 0.25}, key="ferplus")
    assert other.name == mf.report_file(out, "ferplus").name != mf.REPORT_FILE
    assert mf.extra_reports(out) == [("ferplus", other)]


def test_readers_say_what_is_missing_or_damaged(tmp_path):
    assert mf.read_history(tmp_path) is None and mf.read_report(tmp_path) is None
    assert not mf.is_model_folder(tmp_path)
    with pytest.raises(ModelError, match="not a model folder"):
        mf.read_card_data(tmp_path)
    mf.history_path(tmp_path).write_text('{"epochs": 3}')
    with pytest.raises(ModelError, match="expected"):
        mf.read_history(tmp_path)
    mf.card_path(tmp_path).write_text("{oops")
    with pytest.raises(ModelError, match="not valid JSON"):
        mf.read_card_data(tmp_path)


def test_file_names_are_spelled_only_in_model_folder():
    names = [mf.MODEL_FILE, mf.CARD_FILE, mf.HISTORY_FILE, mf.REPORT_FILE, mf.EXTRA_REPORT_GLOB]
    quoted = "|".join("[\"']" + re.escape(n) for n in names)  # as a string literal (docstrings may name them)
    pattern = re.compile(quoted + "|" + re.escape(mf.EXTRA_REPORT_PREFIX + "{"))  # or an f-string building one
    found = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "fer_core").rglob("*.py"))
             if p.name != "model_folder.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert found == []


def test_earlier_epochs_are_named_after_their_model_and_a_damaged_history_is_left_out(tmp_path):
    good, bad, none = tmp_path / "good", tmp_path / "bad", tmp_path / "none"
    for d in (good, bad, none):
        d.mkdir()
    mf.write_history(good, [{"phase": "head", "epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 0.9}])
    (bad / "history.json").write_text("{not json")
    assert [r["phase"] for r in mf.earlier_epochs(good, "member 1")] == ["member 1: head", "member 1: train"]
    assert mf.earlier_epochs(good, "m")[1]["loss"] == 0.9
    assert mf.earlier_epochs(bad, "x") == [] and mf.earlier_epochs(none, "x") == []
    mf.write_history(good, [{"phase": "fer_s7: train", "epoch": 1}, {"phase": "train", "epoch": 2}])
    assert [r["phase"] for r in mf.earlier_epochs(good, "fer_s7wr", keep_named=True)] == ["fer_s7: train",
                                                                                        "fer_s7wr: train"]
    assert [r["phase"] for r in mf.earlier_epochs(good, "member 1")] == ["member 1: fer_s7: train", "member 1: train"]
    mf.write_history(good, [{"phase": "member 1: train", "epoch": 1}])  # a restart from an ensemble is one network
    assert [r["phase"] for r in mf.earlier_epochs(good, "ens", keep_named=True)] == ["ens: member 1: train"]


def test_network_of_names_the_ensemble_member_a_phase_belongs_to():
    assert mf.network_of(f"{mf.member_phase_prefix(2)}: train") == "member 2"
    assert mf.network_of("member 1: fer_s7: train") == "member 1"  # a member that was itself a warm restart
    for single in ("train", "finetune", "fer_s7: train", "member: train", "member x: train", "members 1: head", ""):
        assert mf.network_of(single) == "", single


def test_a_model_name_is_a_folder_under_the_models_folder_only(tmp_path):
    assert mf.model_dir_in(tmp_path, "mine") == tmp_path / "mine"  # need not exist yet (a training's output)
    (tmp_path / "out").symlink_to(tmp_path.parent, target_is_directory=True)
    for name in ("..", ".", "", "a/b", "/etc", "out"):
        with pytest.raises(ModelError, match="not an allowed model name"):
            mf.model_dir_in(tmp_path, name)


def test_model_names_become_folders_only_in_model_folder():
    """Pages, command lines and the registry ask ``model_folder`` which folder a name is; none joins a
    models folder and a name itself (where the '..' and link checks would be forgotten)."""
    joins = re.compile(r"(models_dir|\.models|\.shipped)\s*/|safe_join\([^)]*models")
    places = [ROOT / "streamlit_app.py", *sorted((ROOT / "fer_core").rglob("*.py")),
              *sorted((ROOT / "webui").rglob("*.py")), *sorted((ROOT / "pages").rglob("*.py"))]
    found = [f"{p.relative_to(ROOT)}:{i}" for p in places if p.name != "model_folder.py"
             for i, line in enumerate(p.read_text().splitlines(), 1) if joins.search(line)]
    assert found == []


def test_the_stamp_changes_when_the_card_is_rewritten(tmp_path):
    import os

    card = ModelCard(name="m", class_names=["a", "b"], input_size=(48, 48))
    d = mf.write_model_folder(tmp_path / "m", _FakeNet(), card, [])
    before = mf.stamp(d)
    assert before[0] > 0 and before[1] > 0
    os.utime(mf.card_path(d), (before[1] + 10, before[1] + 10))
    assert mf.stamp(d) != before and mf.stamp(d)[0] == before[0]
    assert mf.stamp(tmp_path / "gone") == (0.0, 0.0)
