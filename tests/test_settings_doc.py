"""The README's settings table and the code agree: every ``FER_*`` the app reads is documented, and every
documented one is read. The scan covers every mention in the source (comments too), so a name left behind
in a comment after its setting went away fails here as well."""

from __future__ import annotations

import re

from tests.conftest import ROOT

NAME = re.compile(r"\bFER_[A-Z][A-Z0-9_]*\b")
SOURCES = [ROOT / "fer_core", ROOT / "webui", ROOT / "pages", ROOT / "streamlit_app.py"]
MAX_SETTINGS = 20  # the operator's knobs; tuning values are constants in the modules that use them


def names_in_code() -> set[str]:
    files = [p for src in SOURCES for p in ([src] if src.is_file() else sorted(src.rglob("*.py")))]
    assert len(files) > 10, "the source folders were not found"
    return {name for path in files for name in NAME.findall(path.read_text())}


def settings_table(readme: str) -> set[str]:
    """The ``FER_*`` names in the table rows of the README's "## Settings" section."""
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `FER_")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1])}


def test_every_setting_the_code_reads_is_in_the_readme_table_and_back() -> None:
    documented = settings_table((ROOT / "README.md").read_text())
    read = names_in_code()
    assert read - documented == set(), "read by the code but missing from the README's settings table"
    assert documented - read == set(), "in the README's settings table but read nowhere"
    assert 0 < len(read) <= MAX_SETTINGS


def test_the_table_parser_sees_a_missing_row() -> None:
    readme = (ROOT / "README.md").read_text()
    row = next(line for line in readme.splitlines() if line.startswith("| `FER_MAX_UPLOAD_MB`"))
    assert "FER_MAX_UPLOAD_MB" not in settings_table(readme.replace(row + "\n", ""))
    assert "FER_MAX_UPLOAD_MB" in settings_table(readme)


def test_deploy_files_name_only_settings_the_code_reads() -> None:
    """systemd's environment file and compose pass settings on by name: a stale name would do nothing."""
    read = names_in_code()
    own = {"FER_COOKIE_SECRET"}  # compose's own variable, handed to Streamlit under another name
    deploy = ROOT / "deploy"
    for path in [deploy / "systemd" / "fer.env", deploy / "compose.yaml", deploy / "Dockerfile"]:
        text = path.read_text()
        stale = set(NAME.findall(text)) - read - own
        assert stale == set(), f"{path.name} names settings the code does not read"
