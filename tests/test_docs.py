"""The README stays a user's manual: short, and free of dates and session history (those belong in docs/)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

MAX_LINES = 250
HISTORY = re.compile(r"20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]|(this|next|last|earlier|previous) session"
                     r"|the session (of|after|before) ", re.IGNORECASE)


def test_the_readme_is_a_short_manual_without_history() -> None:
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= MAX_LINES
    assert [m.group(0) for m in HISTORY.finditer(text)] == []
    assert "make run" in text and "make test" in text


def test_the_history_pattern_catches_a_diary_line() -> None:
    assert HISTORY.search("The next session (2026-11-27, evening) brought a new network")
    assert not HISTORY.search("beyond it START says the server is full (live sessions per process)")


def test_every_linked_doc_exists() -> None:
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and [link for link in links if not (ROOT / link).exists()] == []
