import pytest

from fer_core.settings import get_settings


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("FER_MODELS_DIR", str(tmp_path))
    monkeypatch.setenv("FER_MAX_UPLOAD_MB", "1_000")
    monkeypatch.setenv("FER_VISITOR_TTL_HOURS", "0.5")
    monkeypatch.setenv("FER_YUNET_PATH", "")
    s = get_settings()
    assert s.models_dir == tmp_path and s.max_upload_mb == 1000 and s.visitor_ttl_hours == 0.5
    assert s.yunet_path is None  # empty means: not configured


def test_bad_values_name_the_setting(monkeypatch):
    monkeypatch.setenv("FER_MAX_UPLOAD_MB", "abc")
    with pytest.raises(ValueError, match="FER_MAX_UPLOAD_MB must be a whole number"):
        get_settings()
    monkeypatch.setenv("FER_MAX_UPLOAD_MB", "10")
    monkeypatch.setenv("FER_VISITOR_TTL_HOURS", "lots")
    with pytest.raises(ValueError, match="FER_VISITOR_TTL_HOURS must be a number"):
        get_settings()
