"""Home page: runs without TensorFlow, shows the active model's card, links pages, lists the models."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.app.apptest import ROOT, no_exceptions, page, texts


def test_home_shows_model_card_and_links(app_env: Path) -> None:
    at = page("home.py").run()
    no_exceptions(at)
    assert "Facial expression recognition" in at.title[0].value
    picker = at.sidebar.selectbox(key="model_picker")
    assert picker.value == "default" and picker.options == ["default", "tiny"]  # broken one not selectable
    body = texts(at)
    assert "**Classes:** angry, disgust, fear, happy, sad, surprise, neutral" in body
    backbone = next(line for line in body.splitlines() if "**Backbone:**" in line)
    assert "fer_cnn" in backbone  # the shipped default: "2 × fer_cnn, probabilities averaged"
    # the broken folder is listed with its error under the picker
    assert any("1 model folder(s) cannot be used" in e.label for e in at.sidebar.expander)
    assert "**broken**: " in body and "not valid JSON" in body
    links = {link.proto.label for link in at.page_link}
    assert {"Home", "Live webcam", "Upload photos", "Dataset", "Training metrics"} <= links
    assert any(link.proto.label == "Home" for link in at.sidebar.get("page_link"))


def test_choosing_a_model_applies_to_the_card(app_env: Path) -> None:
    at = page("home.py").run()
    at.sidebar.selectbox(key="model_picker").set_value("tiny").run()
    no_exceptions(at)
    assert at.session_state["model_name"] == "tiny"
    body = texts(at)
    assert "**Classes:** angry, happy, sad" in body
    assert "Recognises 3 expressions (angry, happy, sad)" in body
    intro = at.markdown[0].value
    assert intro.startswith("This app finds the faces") and not any(w in intro for w in ("YuNet", "Haar", "FER+"))


def test_model_summary_is_a_plain_sentence_with_details_folded(app_env: Path) -> None:
    """What it recognises, how well and on how many pictures first; the jargon in an expander (issue 13)."""
    at = page("home.py").run()
    no_exceptions(at)
    from fer_core.inference.card import load_card

    card = load_card(app_env / "default")
    head = next(iter(card.metrics.values()))
    first = next(m.value for m in at.markdown if m.value.startswith("**default**"))
    assert f"Recognises {len(card.class_names)} expressions ({', '.join(card.class_names)})" in first
    assert "in small grey photos of faces" in first
    if head.get("labels") == "ferplus":  # the shipped model: trained and tested on what ten people agreed
        assert f"agreed with what most of ten people said on {head['accuracy']:.1%} of {head['n']:,} faces" in first
    else:
        assert f"{head['accuracy']:.1%} of {head['n']:,} faces right" in first
    for jargon in ("AdamW", "cosine", "bfloat16", "fer_cnn", "PrivateTest", ".npz", "YuNet", "width-32"):
        assert jargon not in first
    details = next(e for e in at.expander if e.label == "Model details")
    folded = "\n".join(m.value for m in details.markdown)
    from fer_core.inference.card import view_count

    views = view_count(card.tta)
    assert views > 1  # the shipped model averages views (six for a single network, the face and its mirror for four)
    assert "fer_cnn" in folded and f"**Test-time views:** {views} views of each face averaged" in folded
    assert "flip averaging" not in texts(at).replace(folded, "")
    assert not at.warning  # 3,589 test pictures: no small-test warning


def test_a_model_tested_on_few_pictures_says_so(app_env: Path) -> None:
    import json

    few = app_env / "few"
    shutil.copytree(app_env / "tiny", few)
    try:
        card = json.loads((few / "model.json").read_text())
        card["metrics"] = {"validation": {"accuracy": 0.8, "n": 5}}
        (few / "model.json").write_text(json.dumps(card))
        at = page("home.py").run()
        at.sidebar.selectbox(key="model_picker").set_value("few").run()
        no_exceptions(at)
        assert "80.0% of 5 faces right" in texts(at)
        assert any("only 5 pictures" in w.value for w in at.warning)
    finally:
        shutil.rmtree(few, ignore_errors=True)


def test_home_sends_model_deletion_to_teach(app_env: Path) -> None:
    """Deleting a model lives on one page (Teach, beside the user's trained models): Home links there."""
    shutil.copytree(app_env / "tiny", app_env / "extra")
    try:
        at = page("home.py").run()
        no_exceptions(at)
        assert not [s for s in at.selectbox if s.label == "Delete a model"]
        assert not [b for b in at.button if b.label.startswith("Delete")]
        link = next(link.proto for link in at.page_link if link.proto.label.startswith("Delete a model"))
        assert link.page.endswith("6_Teach.py") or "Teach" in link.page
    finally:
        shutil.rmtree(app_env / "extra", ignore_errors=True)


def test_first_view_does_not_import_tensorflow(app_env: Path) -> None:
    code = (
        "import streamlit_webrtc, sys\n"
        "from streamlit.testing.v1 import AppTest\n"
        # the page itself must not import TensorFlow; the preload thread would, later, so it is left out
        "import webui.models\n"
        "webui.models.preload_model = lambda model_dir: None\n"
        f"at = AppTest.from_file({str(ROOT / 'home.py')!r}, default_timeout=120).run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "print('TF_LOADED' if 'tensorflow' in sys.modules or 'keras' in sys.modules else 'TF_ABSENT')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TF_ABSENT" in out.stdout


def test_home_preloads_the_model_in_the_background(app_env: Path) -> None:
    code = (
        "import streamlit_webrtc, sys, time\n"
        "from streamlit.testing.v1 import AppTest\n"
        f"at = AppTest.from_file({str(ROOT / 'home.py')!r}, default_timeout=120).run()\n"
        "assert not at.exception, [e.value for e in at.exception]\n"
        "import threading\n"
        "from fer_core.inference import classifier\n"
        "for t in [t for t in threading.enumerate() if t.name == 'fer-preload']:\n"
        "    t.join(timeout=180)\n"
        "print('LOADED' if classifier._cache else 'NOT_LOADED')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "LOADED" in out.stdout.split()
