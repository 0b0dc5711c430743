"""Errors the engine raises with a message fit to show a user as it is."""

from __future__ import annotations


class FerError(Exception):
    """Base class: ``str(err)`` is a one-line message for the user."""


class ImageError(FerError):
    """An input that is not a readable, acceptable image."""


class ModelError(FerError):
    """A model directory that is missing, broken or refused."""


class DatasetError(FerError):
    """A dataset path that cannot be read as a dataset."""


class PathEscapeError(FerError):
    """A path that would leave its configured root."""
