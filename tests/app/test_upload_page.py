"""Upload page with the real model: a face photo gets a label; a bad file beside it gets an error only."""

from __future__ import annotations

import re
from pathlib import Path

from tests.app.apptest import no_exceptions, page, texts


def test_empty_state_and_widgets(app_env: Path) -> None:
    at = page("pages/2_Upload_photos.py").run()
    no_exceptions(at)
    up = at.file_uploader[0]
    assert up.label == "Photos" and up.accept_multiple_files
    assert {t.lstrip(".") for t in up.allowed_type} >= {"jpg", "jpeg", "png", "webp", "bmp"}
    assert any("Choose one or more photos" in i.value for i in at.info)
    assert at.sidebar.selectbox(key="upload_detector").value == "auto"


def test_face_photo_gets_a_label(app_env: Path, astronaut_jpeg: bytes) -> None:
    at = page("pages/2_Upload_photos.py").run()
    at.file_uploader[0].set_value(("astronaut.jpg", astronaut_jpeg, "image/jpeg")).run()
    no_exceptions(at)
    assert not at.error
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 1 and captions[0].startswith("astronaut.jpg: ")
    label, score = captions[0].split(": ", 1)[1].split("largest ")[-1].rsplit(" ", 1)
    assert label == "happy" and re.fullmatch(r"\d{1,3}%", score), captions[0]  # "happy 87%": she smiles
    assert at.get("vega_lite_chart"), "a probability chart per face"
    table = at.dataframe[0].value
    assert list(table["file"])[0] == "astronaut.jpg" and list(table["label"])[0] == label
    download = at.get("download_button")[0]
    assert download.proto.label == "Download results (CSV)"


def test_bad_file_beside_good_one(app_env: Path, astronaut_jpeg: bytes) -> None:
    at = page("pages/2_Upload_photos.py").run()
    at.file_uploader[0].set_value([("broken.jpg", b"this is not an image", "image/jpeg"),
                                   ("astronaut.jpg", astronaut_jpeg, "image/jpeg")]).run()
    no_exceptions(at)
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("broken.jpg: ") and "\n" not in errors[0]
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 1 and captions[0].startswith("astronaut.jpg: ")
    assert captions[0].split(": ", 1)[1].startswith("happy "), captions[0]
    assert "**1** of 2 photo(s) analysed" in texts(at)
    table = at.dataframe[0].value
    assert set(table["file"]) == {"broken.jpg", "astronaut.jpg"}



def test_uploader_takes_every_format_the_error_names(app_env: Path, astronaut_jpeg: bytes) -> None:
    """The refusal message lists gif, so the uploader must offer it too (and a gif must work)."""
    import io

    from PIL import Image

    from fer_core.data.imageio import ACCEPTED_TEXT

    at = page("pages/2_Upload_photos.py").run()
    up = at.file_uploader[0]
    offered = {t.lstrip(".") for t in up.allowed_type}
    named = {w.strip(",") for w in ACCEPTED_TEXT.split() if w != "or"}
    assert named <= offered, (named, offered)
    assert ACCEPTED_TEXT in up.help
    gif = io.BytesIO()
    Image.open(io.BytesIO(astronaut_jpeg)).convert("RGB").save(gif, format="GIF")
    at.file_uploader[0].set_value(("astronaut.gif", gif.getvalue(), "image/gif")).run()
    no_exceptions(at)
    assert not at.error
    assert [c for img in at.image for c in img.captions][0].startswith("astronaut.gif: ")


def test_a_face_crop_is_classified_whole(app_env: Path, astronaut) -> None:
    """A tight crop the detector may miss gets its label when "The whole photo" is chosen; the detector is moot."""
    import io

    from PIL import Image

    from tests.inference.test_pipeline import _tight_crop

    buf = io.BytesIO()
    Image.fromarray(_tight_crop(astronaut)).save(buf, format="PNG")
    at = page("pages/2_Upload_photos.py").run()
    assert not at.sidebar.selectbox(key="upload_detector").disabled
    at.sidebar.radio(key="upload_classify").set_value("The whole photo (already a face crop)").run()
    at.file_uploader[0].set_value(("crop.png", buf.getvalue(), "image/png")).run()
    no_exceptions(at)
    assert at.sidebar.selectbox(key="upload_detector").disabled
    assert not at.warning, [w.value for w in at.warning]
    assert "**1** of 1 photo(s) analysed, each as one face." in texts(at)
    captions = [c for img in at.image for c in img.captions]
    label = captions[0].split(": ", 1)[1].rsplit(" ", 1)[0]
    assert len(captions) == 1 and label == "happy", captions  # her smile, cut close
    table = at.dataframe[0].value
    assert list(table["label"]) == [label] and list(table["x"]) == [0] and list(table["y"]) == [0]


def test_a_landscape_read_whole_is_flagged_and_the_table_is_plain(app_env: Path, astronaut) -> None:
    """"The whole photo" on a wide photo warns that the label is a guess; the table has no empty error column
    and shows probabilities as percentages; the CSV names the model."""
    import io

    import numpy as np
    from PIL import Image

    from fer_core.inference.batch import results_csv

    wide = np.concatenate([astronaut, astronaut], axis=1)  # twice as wide as tall
    buf = io.BytesIO()
    Image.fromarray(wide).save(buf, format="PNG")
    at = page("pages/2_Upload_photos.py").run()
    at.sidebar.radio(key="upload_classify").set_value("The whole photo (already a face crop)").run()
    at.file_uploader[0].set_value(("wide.png", buf.getvalue(), "image/png")).run()
    no_exceptions(at)
    assert any("does not look like a photo cut to one face" in w.value for w in at.warning)
    table = at.dataframe[0].value
    assert "error" not in table.columns
    csv_text = results_csv([], ["happy"], model="default").decode()
    assert csv_text.splitlines()[0].startswith("model,file,")
