"""Dataset page on a generated image-folder dataset, and its empty and error states."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.app.apptest import no_exceptions, page, texts
from tests.helpers import write_folder, write_npz


def test_folder_dataset_counts_chart_and_thumbnails(app_env: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    root = write_folder(tmp_path / "faces", n_per_class=30, splits=("train", "test"))
    monkeypatch.setenv("FER_DATASET_PATH", str(root))
    at = page("pages/3_Dataset.py").run()
    no_exceptions(at)
    assert at.text_input(key="dataset_path").value == str(root)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Images"] == "180" and metrics["Classes"] == "3" and metrics["Splits"] == "2"
    assert at.get("vega_lite_chart"), "class counts chart"
    sizes = at.dataframe[-1].value
    assert set(sizes["size (W×H)"]) == {"48×48"}
    assert at.selectbox(key="dataset_split").options == ["test", "train"]
    images = at.image
    assert len(images) == 1 and len(images[0].value) == 24  # first page of 30 angry test images
    pager = at.number_input(key="dataset_page_test_angry")
    assert pager.max == 2
    pager.set_value(2).run()
    no_exceptions(at)
    assert len(at.image[0].value) == 6
    at.selectbox(key="dataset_class").set_value("sad").run()
    assert len(at.image[0].value) == 24
    assert "Images 1–24 of 30 sad images in test." in texts(at)


def test_empty_state_explains_how_to_get_a_dataset(app_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_DATASET_PATH", "")
    at = page("pages/3_Dataset.py").run()
    no_exceptions(at)
    info = " ".join(i.value for i in at.info)
    assert "No dataset chosen yet" in info and "fer2013.csv" in info and "root/<class>/" in info


def test_missing_path_gives_error_and_help(app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FER_DATASET_PATH", str(tmp_path / "nowhere.npz"))
    at = page("pages/3_Dataset.py").run()
    no_exceptions(at)
    assert "no such dataset file or folder" in at.error[0].value
    assert "FER2013" in at.info[0].value
    at.text_input(key="dataset_path").set_value(str(write_folder(tmp_path / "ok", n_per_class=2))).run()
    no_exceptions(at)
    assert not at.error and {m.label: m.value for m in at.metric}["Images"] == "6"


def test_path_box_reads_only_the_configured_dataset_folders(app_env: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Any other folder on the server is refused in one line (issue 13) that names no server folder (issue 36);
    the dataset's own folder, the captures and FER_DATASET_ROOTS are read, nothing beside or above them."""
    data = tmp_path / "server" / "data"
    (data / "fer2013").mkdir(parents=True)
    write_npz(data / "fer2013" / "fer2013.npz", n_per_class=2)
    write_folder(data / "faces", n_per_class=2)
    extra = write_folder(tmp_path / "elsewhere" / "more", n_per_class=1)
    captures = write_folder(tmp_path / "caps", n_per_class=1)
    outside = write_folder(tmp_path / "server" / "private", n_per_class=2)
    monkeypatch.setenv("FER_DATASET_PATH", str(data / "fer2013" / "fer2013.npz"))
    monkeypatch.setenv("FER_CAPTURE_ROOT", str(captures))
    monkeypatch.setenv("FER_DATASET_ROOTS", str(extra))
    at = page("pages/3_Dataset.py").run()
    for bad in (str(outside), "/etc", str(data / ".." / "private"), "~", str(data / "faces"), str(data)):
        at.text_input(key="dataset_path").set_value(bad).run()
        no_exceptions(at)
        assert len(at.error) == 1 and "outside the dataset folders" in at.error[0].value, bad
        assert "\n" not in at.error[0].value and not at.metric
        for folder in (data, captures, extra):
            assert str(folder) not in at.error[0].value.replace(bad, ""), "the error lists a server folder"
    for good, n in ((data / "fer2013" / "fer2013.npz", "6"), (extra, "3"), (captures, "3")):
        at.text_input(key="dataset_path").set_value(str(good)).run()
        no_exceptions(at)
        assert not at.error and {m.label: m.value for m in at.metric}["Images"] == n


def test_a_way_back_to_the_default_and_a_word_on_the_models_other_classes(
        app_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another dataset that failed leaves a button back to the default; the default model's contempt is
    explained beside a dataset without it; no server path in the caption."""
    root = write_folder(tmp_path / "faces", n_per_class=2)
    monkeypatch.setenv("FER_DATASET_PATH", str(root))
    monkeypatch.setenv("FER_DEFAULT_MODEL", "default")
    at = page("pages/3_Dataset.py").run()
    no_exceptions(at)
    assert not [b for b in at.button if b.key == "dataset_default"]  # on the default: nothing to go back to
    note = next(i.value for i in at.info if "the model in use (default) knows 8" in i.value)
    assert "contempt" in note and "FER+ votes" in note
    assert str(tmp_path) not in " ".join(c.value for c in at.caption)
    at.text_input(key="dataset_path").set_value(str(tmp_path / "nowhere")).run()
    assert at.error
    at.button(key="dataset_default").click().run()
    no_exceptions(at)
    assert not at.error and at.text_input(key="dataset_path").value == str(root)
    assert {m.label: m.value for m in at.metric}["Images"] == "6"
