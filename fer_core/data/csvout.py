"""The one CSV writer for tables the app hands to users (upload results, video and live timelines).

Why one place: every downloaded table must be safe to open in a spreadsheet (a cell starting with
``=``, ``+``, ``-`` or ``@`` would run as a formula) and write missing values the same way.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any


def safe_cell(value: Any) -> Any:
    """Empty for missing values; text that a spreadsheet would run as a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def table_csv(rows: Iterable[dict[str, Any]], columns: list[str]) -> bytes:
    """``rows`` under a header of ``columns`` (other keys ignored) as UTF-8 CSV with safe cells."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: safe_cell(v) for k, v in row.items()})
    return buf.getvalue().encode("utf-8")


__all__ = ["safe_cell", "table_csv"]
