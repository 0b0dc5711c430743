"""webui.common: ICE configuration sources, the shared cached pipeline, small chart helpers."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from webui.common import cached_pipeline, model_summary, percent, probability_chart, rtc_configuration


def test_rtc_default_is_no_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FER_ICE_SERVERS", raising=False)
    assert rtc_configuration() == {"iceServers": []}


@pytest.mark.parametrize("value, expected", [
    ('[{"urls": ["stun:stun.example.org:3478"]}]', [{"urls": ["stun:stun.example.org:3478"]}]),
    ('{"iceServers": [{"urls": "turn:t.example.org", "username": "u", "credential": "c"}]}',
     [{"urls": "turn:t.example.org", "username": "u", "credential": "c"}]),
    ('{"urls": "stun:one.example.org"}', [{"urls": "stun:one.example.org"}]),
])
def test_rtc_from_env(monkeypatch: pytest.MonkeyPatch, value: str, expected: list) -> None:
    monkeypatch.setenv("FER_ICE_SERVERS", value)
    assert rtc_configuration() == {"iceServers": expected}


@pytest.mark.parametrize("value", ["not json", '[{"no_urls": 1}]', "42"])
def test_rtc_bad_env_falls_back(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("FER_ICE_SERVERS", value)
    assert rtc_configuration() == {"iceServers": []}


def test_cached_pipeline_is_shared_and_reloads_on_change(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    p1 = cached_pipeline(str(d), "haar")
    p2 = cached_pipeline(d, "haar")
    assert p1 is p2 and p1.classifier.class_names == ["angry", "happy", "sad"]
    assert cached_pipeline(d, "haar", min_neighbors=8).classifier is p1.classifier  # one model, two detectors
    card = json.loads((d / "model.json").read_text())
    card["notes"] = "changed"
    (d / "model.json").write_text(json.dumps(card))
    st = (d / "model.json").stat()
    os.utime(d / "model.json", (st.st_atime, st.st_mtime + 10))
    p3 = cached_pipeline(d, "haar")
    assert p3 is not p1 and p3.classifier.card.notes == "changed"


def test_small_helpers() -> None:
    chart = probability_chart({"happy": 0.7, "sad": 0.3}).to_dict()
    assert chart["mark"]["type"] == "bar" and chart["encoding"]["x"]["scale"]["domain"] == [0, 1]
    assert percent(0.873) == "87%" and percent(None) == "—"

    class Card:
        class_names = ["a", "b"]
        backbone, weights, input_size, color_mode = "mobilenet_v2", "imagenet", (96, 96), "rgb"
        metrics = {"PrivateTest": {"accuracy": 0.6543}}

    s = model_summary(Card())
    assert s["Test accuracy"] == "65.4% on PrivateTest" and s["Backbone"] == "mobilenet_v2 (imagenet weights)"
    assert s["Test-time views"] == "original"

    class Ensemble(Card):
        backbone, weights = "fer_cnn", "ensemble of a, b"
        training = {"ensemble": [{"name": "a"}, {"name": "b"}]}
        tta = ["hflip", "zoom:1.1"]

    e = model_summary(Ensemble())
    assert e["Backbone"] == "2 × fer_cnn, probabilities averaged"
    assert e["Test-time views"] == "original + mirrored, zoom ×1.1 + mirrored"
