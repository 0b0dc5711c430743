"""Upload page with hostile files beside a good photo: each bad file gets one ``st.error`` line,
the photo still gets its result, nothing raises, and the table lists every file."""

from __future__ import annotations

from pathlib import Path

from fer_core.data.imageio import display_name
from tests.app.apptest import no_exceptions, page, texts
from tests.corpus.make_bad_corpus import corpus_cases

HOSTILE = ("bomb_50000x50000.png", "truncated.jpg", "page.png", "tiff_named.jpg", "zero_bytes.jpg",
           "evil\nname\r.jpg", "huge_header.jpg")


def test_hostile_files_beside_a_good_one(app_env: Path) -> None:
    payloads = {c.name: p for c, p in corpus_cases()}
    files = [(name, payloads[name] or b"", "image/jpeg") for name in HOSTILE]
    files.insert(3, ("astronaut.jpg", payloads["astronaut.jpg"], "image/jpeg"))
    files.append(("exif_orientation6.jpg", payloads["exif_orientation6.jpg"], "image/jpeg"))
    at = page("pages/2_Upload_photos.py").run()
    at.file_uploader[0].set_value(files).run()
    no_exceptions(at)
    errors = [e.value for e in at.error]
    assert len(errors) == len(HOSTILE), errors
    for name, message in zip(HOSTILE, errors):
        assert "\n" not in message and "\r" not in message and message.isprintable(), repr(message)
        assert message.startswith(display_name(name) + ": "), message
    captions = [c for img in at.image for c in img.captions]
    assert len(captions) == 2
    assert captions[0].startswith("astronaut.jpg: ") and captions[1].startswith("exif_orientation6.jpg: ")
    assert f"**2** of {len(files)} photo(s) analysed" in texts(at)
    table = at.dataframe[0].value
    assert set(table["file"]) == {name for name, _, _ in files}
