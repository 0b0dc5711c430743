import pytest

from fer_core.settings import get_settings


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("FER_MAX_PIXELS", "1_000")
    monkeypatch.setenv("FER_HAAR_SCALE_FACTOR", "1.05")
    monkeypatch.setenv("FER_YUNET_PATH", "")
    s = get_settings()
    assert s.models_dir == tmp_path and s.max_pixels == 1000 and s.haar_scale_factor == 1.05
    assert s.yunet_path is None  # empty means: not configured


def test_bad_values_name_the_setting(monkeypatch):
    monkeypatch.setenv("FER_MAX_PIXELS", "abc")
    with pytest.raises(ValueError, match="FER_MAX_PIXELS must be a whole number"):
        get_settings()
    monkeypatch.setenv("FER_MAX_PIXELS", "10")
    monkeypatch.setenv("FER_SMOOTHING_ALPHA", "lots")
    with pytest.raises(ValueError, match="FER_SMOOTHING_ALPHA must be a number"):
        get_settings()


def test_eye_levelling_setting(monkeypatch):
    assert get_settings().level_eyes_beyond == 8.0
    monkeypatch.setenv("FER_LEVEL_EYES_BEYOND", "12.5")
    assert get_settings().level_eyes_beyond == 12.5
    monkeypatch.setenv("FER_LEVEL_EYES_BEYOND", "Off")
    assert get_settings().level_eyes_beyond is None
    for bad in ("120", "-3"):
        monkeypatch.setenv("FER_LEVEL_EYES_BEYOND", bad)
        with pytest.raises(ValueError, match="FER_LEVEL_EYES_BEYOND must be 0 to 90 degrees, or off"):
            get_settings()
