"""Small helpers for AppTest page tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180  # seconds per AppTest run: the first run loads TensorFlow and a model on a busy CPU


def page(name: str):
    """An AppTest for a page script of this project."""
    from streamlit.testing.v1 import AppTest

    return AppTest.from_file(str(ROOT / name), default_timeout=TIMEOUT)


def no_exceptions(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at) -> str:
    """Every text-like element's content, one per line (for substring checks)."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "text", "info", "warning", "error",
                 "success"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    return "\n".join(parts)


class StreamState:
    """Stands in for streamlit-webrtc's state: ``playing`` for ``turns`` reads, then stopped."""

    def __init__(self, turns: int) -> None:
        self.turns = turns

    @property
    def playing(self) -> bool:
        self.turns -= 1
        return self.turns >= 0


class StreamContext:
    """What a patched ``webrtc_streamer`` returns to a page in AppTest."""

    def __init__(self, turns: int) -> None:
        self.state = StreamState(turns)
