"""CSV downloads streamed row by row, so memory stays flat however many rows."""

from __future__ import annotations

import csv
import datetime
import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

# Rows written per chunk sent to the client: fewer, larger writes than one per row.
ROWS_PER_CHUNK = 500
# A spreadsheet runs a cell starting with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() hands back what it was given."""

    def write(self, value: str) -> str:
        return value


def cell(value: Any) -> str:
    """One value as CSV text; text that a spreadsheet would run as a formula is quoted."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value)
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def stream_csv(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> StreamingHttpResponse:
    """A CSV download of `rows` (consumed lazily, e.g. from QuerySet.iterator())."""
    response = StreamingHttpResponse(_chunks(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    lines = (writer.writerow([cell(value) for value in row]) for row in rows)
    while chunk := "".join(itertools.islice(lines, ROWS_PER_CHUNK)):
        yield chunk
