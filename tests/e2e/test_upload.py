"""The upload page in a real browser: a JPEG of a real face goes through the file input and comes back
labelled; a broken file gets a one-line error and does not stop the good one."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from PIL import Image

from tests.e2e.support import exception_texts, open_app_page, single, wait_for_app, wait_for_text

RESULT_TIMEOUT_S = 60


def test_upload_labels_a_face_photo(page, app_server, model_classes, astronaut, tmp_path: Path, screenshot):
    photo = tmp_path / "astronaut.jpg"
    Image.fromarray(astronaut).save(photo, quality=92)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"this is not a JPEG")

    open_app_page(page, app_server.url, "Upload_photos")
    assert not exception_texts(page), exception_texts(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Photos")
    uploader.locator('input[type="file"]').set_input_files([str(photo), str(broken)])

    labels = "|".join(re.escape(c) for c in model_classes)
    caption = re.compile(rf"astronaut\.jpg[^\n]*?\b({labels})\b", re.IGNORECASE)
    try:
        m = wait_for_text(page, caption, timeout=RESULT_TIMEOUT_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{app_server.log_tail()}") from None
    assert m.group(1).lower() == "happy", m.group(0)  # the astronaut smiles (tests/truth.py)
    wait_for_app(page)  # the run is over and the probability charts are drawn

    errors = page.locator('[data-testid="stAlertContentError"]')
    assert errors.count() >= 1, "the broken file got no st.error"
    assert any("broken.jpg" in t for t in errors.all_inner_texts()), errors.all_inner_texts()
    assert not exception_texts(page), exception_texts(page)
    screenshot(page, "upload")

    # The CSV the page offers holds both files: the face's row and the broken file's error row.
    with page.expect_download(timeout=30_000) as download:
        single(page.get_by_text("Download results (CSV)")).click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    by_file = {r["file"]: r for r in rows}
    assert set(by_file) == {"astronaut.jpg", "broken.jpg"}, rows
    assert by_file["astronaut.jpg"]["label"].lower() == "happy"
    assert by_file["broken.jpg"]["error"]


def test_a_face_crop_is_labelled_whole(page, app_server, model_classes, astronaut, tmp_path: Path, screenshot):
    """A dataset-style crop of the face, with "The whole photo" chosen in the sidebar, comes back labelled."""
    from tests.inference.test_pipeline import _tight_crop

    crop = tmp_path / "crop.png"
    Image.fromarray(_tight_crop(astronaut)).save(crop)
    open_app_page(page, app_server.url, "Upload_photos")
    single(page.get_by_text("The whole photo (already a face crop)")).click()
    wait_for_app(page)
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Photos")
    uploader.locator('input[type="file"]').set_input_files([str(crop)])
    labels = "|".join(re.escape(c) for c in model_classes)
    try:
        m = wait_for_text(page, re.compile(rf"crop\.png: ({labels}) \d+%", re.IGNORECASE), timeout=RESULT_TIMEOUT_S)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}\n--- server log ---\n{app_server.log_tail()}") from None
    assert m.group(1).lower() == "happy", m.group(0)  # her smile, cut close
    wait_for_app(page)
    assert page.locator('[data-testid="stAlertContentWarning"]').count() == 0  # no "no face found"
    assert not exception_texts(page), exception_texts(page)
    screenshot(page, "upload_whole")
