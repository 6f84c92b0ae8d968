"""Bulk create: CreateInferenceScheduler requests read from an uploaded JSON or
CSV file and checked row by row, before anything is sent.

JSON: a list of request objects. CSV: one scheduler a row, a column for each
member path of the request (DataInputConfiguration.S3InputConfiguration.Bucket)
and a Tags column of `key=value;key2=value2`. Every row goes through the one
validator; a row without a ClientToken gets a fresh one, so that each row is a
request of its own.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import PurePath
from typing import Any

from django import forms
from django.core.exceptions import ValidationError as FormError

from scheduler_ui import lookout
from scheduler_ui.lookout.service import member_shape_name, set_member
from scheduler_ui.schedulers import account
from scheduler_ui.schedulers.models import Submission, unstorable_text

OPERATION = "CreateInferenceScheduler"
REQUEST = "CreateInferenceSchedulerRequest"
MAX_BYTES = 1024 * 1024
MAX_ROWS = 1000
TAGS = "Tags"
# An integer cell: ASCII digits only (int() would also take "1_0" and other
# scripts' digits); longer numbers are left as text for the validator to refuse.
_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_NUMBER_TYPES = frozenset({"integer", "long"})


class UploadError(Exception):
    """The file as a whole cannot be read; the message says why, for the person
    who uploaded it."""


@dataclass
class Row:
    """One scheduler of the upload: its number as the person sees it (the
    spreadsheet row for CSV, the position in the list for JSON), the request as
    read, and what is wrong with it or worth knowing."""

    number: int
    request: Any
    errors: list[lookout.ValidationError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def scheduler_name(self) -> str:
        return self._text("InferenceSchedulerName")

    @property
    def model_name(self) -> str:
        return self._text("ModelName")

    def _text(self, member: str) -> str:
        value = self.request.get(member) if isinstance(self.request, dict) else None
        return value if isinstance(value, str) else ""


# --- Reading the file ---------------------------------------------------------------


def read_upload(filename: str, data: bytes) -> list[tuple[int, Any]]:
    """The numbered rows of an uploaded file, or UploadError."""
    if len(data) > MAX_BYTES:
        raise UploadError(f"The file is larger than {MAX_BYTES // 1024} KiB; split it up.")
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark (spreadsheets write one) is dropped
    except UnicodeDecodeError as error:
        raise UploadError(
            f"The file is not UTF-8 text (byte {error.start + 1} is not); save it as UTF-8."
        ) from None
    suffix = PurePath(filename).suffix.lower()
    if suffix == ".json":
        rows = _json_rows(text)
    elif suffix == ".csv":
        rows = _csv_rows(text)
    else:
        raise UploadError("Upload a .json or a .csv file.")
    if not rows:
        raise UploadError("The file holds no schedulers.")
    return rows


def _json_rows(text: str) -> list[tuple[int, Any]]:
    def refuse_constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    def without_nulls(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # A null member is one left out (as the validator reads it); boto3 takes no None.
        return {key: value for key, value in pairs if value is not None}

    try:
        found = json.loads(text, parse_constant=refuse_constant, object_pairs_hook=without_nulls)
    except RecursionError:
        raise UploadError("The file is not valid JSON: it nests too deeply.") from None
    except ValueError as error:  # JSONDecodeError, and numbers too long to read
        raise UploadError(f"The file is not valid JSON: {error}.") from None
    if not isinstance(found, list):
        raise UploadError(
            "The file must hold a JSON list of CreateInferenceScheduler requests,"
            ' like [{"InferenceSchedulerName": ...}, ...].'
        )
    _check_count(len(found))
    return list(enumerate(found, start=1))


@cache
def csv_columns() -> tuple[str, ...]:
    """The columns a CSV file may have: every member path of the request that
    holds a value (structures are spelled out), and Tags."""

    def paths(structure: str, prefix: str) -> Iterator[str]:
        for name, member in lookout.shape(structure)["members"].items():
            if lookout.shape(member["shape"])["type"] == "structure":
                yield from paths(member["shape"], f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    return tuple(paths(REQUEST, ""))


def _csv_rows(text: str) -> list[tuple[int, Any]]:
    try:
        records = list(_csv_records(text))
    except csv.Error as error:
        raise UploadError(f"The file is not valid CSV: {error}.") from None
    if not records:
        return []
    (_, header), *body = records
    columns = [name.strip() for name in header]
    _check_columns(columns, body)
    _check_count(len(body))
    rows = []
    for number, cells in body:
        if len(cells) > len(columns):
            raise UploadError(f"Row {number} has more cells than the header has columns.")
        request: dict[str, Any] = {}
        for column, cell in zip(columns, cells, strict=False):
            if column and cell != "":  # an empty cell is a member left out
                set_member(request, column, _cell_value(column, cell))
        # A row cannot spell out an empty structure; the form sends it empty too.
        request.setdefault("DataInputConfiguration", {})
        rows.append((number, request))
    return rows


def _csv_records(text: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank records, numbered as a spreadsheet numbers its rows (the
    header is row 1)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    for number, cells in enumerate(reader, start=1):
        if any(cell.strip() for cell in cells):
            yield number, cells


def _check_columns(columns: list[str], body: list[tuple[int, list[str]]]) -> None:
    known = set(csv_columns())
    unknown = [name for name in columns if name and name not in known]
    if unknown:
        shown = ", ".join(unknown[:10]) + (", …" if len(unknown) > 10 else "")
        raise UploadError(
            f"Unknown column{'s' if len(unknown) > 1 else ''} {shown}. Columns are"
            f" named by the request's member paths: {', '.join(csv_columns())}."
        )
    repeated = sorted(name for name, n in Counter(columns).items() if name and n > 1)
    if repeated:
        raise UploadError(
            f"Repeated column{'s' if len(repeated) > 1 else ''}: {', '.join(repeated)}."
        )
    # A spreadsheet may save empty columns with no name; one holding values is a mistake.
    for index, name in enumerate(columns):
        if not name and any(index < len(cells) and cells[index] for _, cells in body):
            raise UploadError(f"Column {index + 1} has no name but holds values.")


def _cell_value(column: str, cell: str) -> Any:
    if column == TAGS:
        return [
            {"Key": key.strip(), "Value": value.strip()}
            for key, _, value in (item.partition("=") for item in cell.split(";") if item.strip())
        ]
    kind = lookout.shape(member_shape_name(REQUEST, column))["type"]
    if kind in _NUMBER_TYPES and _INTEGER.fullmatch(cell.strip()):
        return int(cell)
    return cell


def _check_count(count: int) -> None:
    if count > MAX_ROWS:
        raise UploadError(f"The file holds {count} schedulers; at most {MAX_ROWS} at a time.")


# --- Checking the rows -------------------------------------------------------------


def check(rows: list[tuple[int, Any]]) -> list[Row]:
    """Every row validated as a CreateInferenceScheduler request, with a fresh
    ClientToken where it has none; a ClientToken already used (by a submission
    or an earlier row) is an error too, and so is text no submission can hold
    (a NUL character, as in the form)."""
    checked = []
    for number, request in rows:
        if isinstance(request, dict) and "ClientToken" not in request:
            request = {**request, "ClientToken": Submission.new_client_token()}
        errors = lookout.validate_request(OPERATION, request)
        if not errors:  # then it has the request's shape, however deep the file nests
            errors = [lookout.ValidationError(path, why) for path, why in unstorable_text(request)]
        checked.append(Row(number, request, errors))
    _check_tokens([row for row in checked if row.valid])
    return checked


def add_warnings(checked: list[Row]) -> None:
    """Give valid rows the warnings the create form gives (name taken, model
    already served), and a note when an earlier row has the same name or model."""
    schedulers = account.existing_schedulers()
    first_with_name: dict[str, int] = {}
    first_with_model: dict[str, int] = {}
    for row in checked:
        if not row.valid:
            continue
        name, model = row.request["InferenceSchedulerName"], row.request["ModelName"]
        row.warnings = account.warnings(name, model, schedulers)
        if name in first_with_name:
            row.warnings.append(f"Row {first_with_name[name]} has the same scheduler name.")
        if model in first_with_model:
            row.warnings.append(f"Row {first_with_model[model]} is for the same model.")
        first_with_name.setdefault(name, row.number)
        first_with_model.setdefault(model, row.number)


def _check_tokens(rows: list[Row]) -> None:
    tokens = [row.request["ClientToken"] for row in rows]
    used = set(
        Submission.objects.filter(client_token__in=tokens).values_list("client_token", flat=True)
    )
    earlier: dict[str, int] = {}
    for row in rows:
        token = row.request["ClientToken"]
        if token in used:
            row.errors.append(
                lookout.ValidationError(
                    "ClientToken", "This client token was already used by another submission."
                )
            )
        elif token in earlier:
            row.errors.append(
                lookout.ValidationError(
                    "ClientToken", f"Row {earlier[token]} already uses this client token."
                )
            )
        earlier.setdefault(token, row.number)


class BulkUploadForm(forms.Form):
    file = forms.FileField(
        label="JSON or CSV file",
        help_text=f"Up to {MAX_ROWS} schedulers and {MAX_BYTES // 1024} KiB.",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,.csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        # Read no more than the limit allows: the size the browser gave may lie.
        data = upload.read(MAX_BYTES + 1)
        try:
            self.rows = check(read_upload(upload.name or "", data))
        except UploadError as error:
            raise FormError(str(error)) from None
        add_warnings(self.rows)
        return upload
