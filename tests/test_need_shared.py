"""``need_shared``: development data that is absent skips a test locally and fails it in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import need_shared


@pytest.mark.parametrize("ci", ["true", "1"])
def test_absent_shared_data_fails_under_ci(ci: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="CI=true but .*nothing.npz not present"):
        need_shared(tmp_path / "nothing.npz")


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_absent_shared_data_skips_with_its_path_elsewhere(ci: str | None, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match=r"nothing.npz not present \(../shared is only beside"):
        need_shared(tmp_path / "nothing.npz")


def test_present_data_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    (tmp_path / "here.npz").write_bytes(b"")
    need_shared(tmp_path / "here.npz")  # neither skips nor fails
