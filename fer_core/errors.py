"""Errors the engine raises with a message fit to show a user as it is."""

from __future__ import annotations

MAX_MESSAGE_CHARS = 500


def one_line(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one bounded line: runs of whitespace (newlines included) become one space,
    other control characters are dropped."""
    flat = " ".join(str(text).split())
    flat = "".join(ch for ch in flat if ch.isprintable())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def exception_line(exc: BaseException) -> str:
    """What went wrong, as one line for a user: the message's first line, led by the exception's kind
    unless it is the engine's own or a plain ``ValueError``/``FileNotFoundError`` (whose message says it
    all), since a library's bare message ("list index out of range") does not say what failed."""
    text = str(exc).strip()
    first = one_line(text.splitlines()[0]) if text else type(exc).__name__
    return first if isinstance(exc, FerError) or type(exc) in (ValueError, FileNotFoundError) else \
        f"{type(exc).__name__}: {first}"


class FerError(Exception):
    """Base class: ``str(err)`` is a one-line message for the user (a multi-line or very long
    message, e.g. one quoting a library's error, is flattened here whatever its origin)."""

    def __str__(self) -> str:
        return one_line(super().__str__())


class ImageError(FerError):
    """An input that is not a readable, acceptable image."""


class VideoError(FerError):
    """An input that is not a readable, acceptable video (or one over the video limits)."""


class ModelError(FerError):
    """A model directory that is missing, broken or refused."""


class DatasetError(FerError):
    """A dataset path that cannot be read as a dataset."""


class PathEscapeError(FerError):
    """A path that would leave its configured root."""
