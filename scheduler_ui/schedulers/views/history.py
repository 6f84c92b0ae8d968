"""/history/: every event across the team, newest first, filtered and paged by
keyset; its CSV export; and one scheduler's history as a single timeline."""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone

from scheduler_ui.schedulers import lifecycle
from scheduler_ui.schedulers.access import can_read
from scheduler_ui.schedulers.exports import stream_csv
from scheduler_ui.schedulers.forms import MemberValidator
from scheduler_ui.schedulers.models import (
    TAGGING,
    EventKind,
    Operation,
    State,
    Submission,
    SubmissionEvent,
)

PAGE_SIZE = 50
# The "who" choice for events no person caused; not a valid username, so it never clashes.
WORKER = "(worker)"
EXPORT_CHUNK_SIZE = 2000

# --- Cursors: a position in the (at, id) order ----------------------------------

Cursor = tuple[datetime.datetime, int]

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MICROSECOND = datetime.timedelta(microseconds=1)
_CURSOR = re.compile(r"(\d{1,19})_(\d{1,19})")
_MAX_ID = 2**63 - 1


def encode_cursor(event: SubmissionEvent) -> str:
    """`<microseconds since 1970>_<id>`: exact, short and safe in a URL."""
    return f"{(event.at - _EPOCH) // _MICROSECOND}_{event.pk}"


def decode_cursor(value: str) -> Cursor:
    broken = ValidationError("This page link is broken; start again from the newest events.")
    match = _CURSOR.fullmatch(value)
    if match is None or int(match.group(2)) > _MAX_ID:
        raise broken
    try:
        at = _EPOCH + int(match.group(1)) * _MICROSECOND
    except OverflowError:
        raise broken from None
    return at, int(match.group(2))


class CursorField(forms.CharField):
    NAMES = ("before", "after")
    widget = forms.HiddenInput

    def __init__(self) -> None:
        super().__init__(required=False, max_length=40)

    def clean(self, value: Any) -> Cursor | None:
        text = super().clean(value)
        return decode_cursor(text) if text else None


# --- The filters ----------------------------------------------------------------


class HistoryFilterForm(forms.Form):
    """The filters of /history/ and its CSV export, read from the query string."""

    user = forms.ChoiceField(label="Who", required=False)
    scheduler = forms.CharField(
        label="Scheduler name",
        required=False,
        validators=[MemberValidator("InferenceSchedulerName")],
    )
    model = forms.CharField(
        label="Model", required=False, validators=[MemberValidator("ModelName")]
    )
    kind = forms.ChoiceField(
        label="What", required=False, choices=[("", "Anything"), *EventKind.choices]
    )
    state = forms.ChoiceField(
        label="Submission state", required=False, choices=[("", "Any"), *State.choices]
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "Scheduler name, ARN or details"}),
    )
    before = CursorField()
    after = CursorField()

    def __init__(self, data: QueryDict) -> None:
        super().__init__(data)
        usernames = get_user_model().objects.order_by("username").values_list("username")
        cast(forms.ChoiceField, self.fields["user"]).choices = [
            ("", "Anyone"),
            (WORKER, "The worker"),
            *((name, name) for (name,) in usernames),
        ]
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} {css}-sm"

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        if data.get("before") and data.get("after"):
            raise ValidationError("A page link cannot go both older and newer.")
        return data

    def events(self) -> QuerySet[SubmissionEvent]:
        """The events that pass the filters, in no order yet."""
        data = self.cleaned_data
        events = SubmissionEvent.objects.select_related("submission", "actor")
        if data["user"] == WORKER:
            events = events.filter(actor__isnull=True)
        elif data["user"]:
            events = events.filter(actor__username=data["user"])
        of_submissions = Q()
        if data["scheduler"]:
            of_submissions &= Q(scheduler_name=data["scheduler"])
        if data["model"]:
            of_submissions &= Q(model_name=data["model"])
        if data["state"]:
            of_submissions &= Q(state=data["state"])
        if of_submissions:
            events = events.filter(_of_submissions(of_submissions))
        if data["kind"]:
            events = events.filter(kind=data["kind"])
        if data["date_from"]:
            events = events.filter(at__gte=_start_of(data["date_from"]))
        if data["date_to"]:
            events = events.filter(at__lt=_start_of(data["date_to"] + datetime.timedelta(days=1)))
        if data["q"]:
            named = Q(scheduler_name__icontains=data["q"]) | Q(scheduler_arn__icontains=data["q"])
            events = events.annotate(details_text=Cast("details", TextField())).filter(
                _of_submissions(named) | Q(details_text__icontains=data["q"])
            )
        return events


# Up to this many submissions are looked up first and their events found by
# the (submission, at) index; more, and the newest-first scan finds a page sooner.
FEW_SUBMISSIONS = 500


def _of_submissions(condition: Q) -> Q:
    """Events of the submissions that meet `condition`, put so that the database
    answers quickly both for a rare scheduler name (a short list of ids) and for
    a common state (a subquery checked while reading newest first)."""
    ids = list(
        Submission.objects.filter(condition).values_list("pk", flat=True)[: FEW_SUBMISSIONS + 1]
    )
    if len(ids) <= FEW_SUBMISSIONS:
        return Q(submission_id__in=ids)
    return Q(submission__in=Submission.objects.filter(condition))


def _start_of(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


# --- Keyset pages ---------------------------------------------------------------


@dataclass
class Page:
    events: list[SubmissionEvent]
    newer: str | None  # cursor for "← Newer", None on the newest page
    older: str | None  # cursor for "Older →", None on the oldest page


def keyset_page(
    events: QuerySet[SubmissionEvent],
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """One page of `events`, newest first: the `size` events older than `before`,
    or newer than `after`, or the newest. One query (two when going back to the
    newest page); never a count. The redundant `at <=`/`at >=` bound lets the
    database seek in its (at, id) index instead of filtering from the top."""
    if after is not None:
        at, pk = after
        rows = list(
            events.filter(at__gte=at)
            .filter(Q(at__gt=at) | Q(pk__gt=pk))
            .order_by("at", "id")[: size + 1]
        )
        if len(rows) <= size:  # reached the newest: show the newest page in full
            return keyset_page(events, size=size)
        rows = rows[:size][::-1]
        return Page(rows, newer=encode_cursor(rows[0]), older=encode_cursor(rows[-1]))
    ordered = events.order_by("-at", "-id")
    if before is not None:
        at, pk = before
        ordered = ordered.filter(at__lte=at).filter(Q(at__lt=at) | Q(pk__lt=pk))
    rows = list(ordered[: size + 1])
    older = encode_cursor(rows[size - 1]) if len(rows) > size else None
    rows = rows[:size]
    newer = encode_cursor(rows[0]) if before is not None and rows else None
    return Page(rows, newer=newer, older=older)


def _url(name: str, request: HttpRequest, **cursor: str) -> str:
    """The page `name` with the current filters, without page position, plus `cursor`."""
    query = request.GET.copy()
    for key in CursorField.NAMES:
        query.pop(key, None)
    query.update(cursor)
    return f"{reverse(name)}?{query.urlencode()}" if query else reverse(name)


# --- Views ----------------------------------------------------------------------


@can_read
def history(request: HttpRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "schedulers/history.html", {"form": form}, status=400)
    page = keyset_page(form.events(), form.cleaned_data["before"], form.cleaned_data["after"])
    context = {
        "form": form,
        "page": page,
        "filtered": any(value for key, value in form.data.items() if key not in CursorField.NAMES),
        "newest_url": _url("history", request)
        if page.newer or form.cleaned_data["before"]
        else None,
        "newer_url": _url("history", request, after=page.newer) if page.newer else None,
        "older_url": _url("history", request, before=page.older) if page.older else None,
        "export_url": _url("history_export", request),
    }
    return render(request, "schedulers/history.html", context)


EXPORT_HEADER = (
    "at",
    "who",
    "what",
    "from_state",
    "to_state",
    "submission",
    "scheduler_name",
    "model_name",
    "details",
)
# Where each column comes from.
EXPORT_COLUMNS = (
    "at",
    "actor__username",
    "kind",
    "from_state",
    "to_state",
    "submission_id",
    "submission__scheduler_name",
    "submission__model_name",
    "details",
)


@can_read
def history_export(request: HttpRequest) -> HttpResponseBase:
    """The filtered history (every page of it) as CSV, newest first."""
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponse(
            form.errors.as_text(), status=400, content_type="text/plain; charset=utf-8"
        )
    # Plain values rather than events with their submission and actor: a
    # million rows are read several times faster.
    rows = form.events().order_by("-at", "-id").values_list(*EXPORT_COLUMNS)
    return stream_csv(
        "history.csv", EXPORT_HEADER, _export_rows(rows.iterator(chunk_size=EXPORT_CHUNK_SIZE))
    )


def _export_rows(rows: Iterator[tuple[Any, ...]]) -> Iterator[list[Any]]:
    for at, username, *rest in rows:
        yield [at, username or "worker", *rest]


# --- One scheduler --------------------------------------------------------------


def diff_requests(before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """The differences between two requests, field by field: (path, before, after)
    rows in request order, with None for a member that is not set. Paths read
    like the request: `DataInputConfiguration.S3InputConfiguration.Bucket`;
    tags are matched by key (`Tags[team]`), other lists by position (`[0]`)."""
    return list(_diff(before, after, ""))


def _diff(before: Any, after: Any, path: str) -> Iterator[tuple[str, Any, Any]]:
    left, right = _members(before), _members(after)
    # A structure that is not set compares as an empty one, member by member.
    if left is None and before is None and right is not None:
        left = {}
    if right is None and after is None and left is not None:
        right = {}
    if left is None or right is None:
        if before != after:
            yield path, before, after
        return
    for key in [*left, *(key for key in right if key not in left)]:
        child = f"{path}{key}" if key.startswith("[") or not path else f"{path}.{key}"
        yield from _diff(left.get(key), right.get(key), child)


def _members(value: Any) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, list):
        if all(isinstance(item, dict) and set(item) == {"Key", "Value"} for item in value):
            return {f"[{item['Key']}]": item["Value"] for item in value}
        return {f"[{index}]": item for index, item in enumerate(value)}
    return None


@dataclass
class Change:
    path: str
    before: str
    after: str


@dataclass
class TimelineEntry:
    event: SubmissionEvent
    previous: Submission | None  # the request whose configuration this one changes
    changes: list[Change] | None  # that configuration against this request's
    first: bool = False  # the first request under this name


@can_read
def scheduler_history(request: HttpRequest, name: str) -> HttpResponse:
    # No submission can hold a name no scheduler can have (and PostgreSQL refuses
    # to compare text with a NUL in it).
    if not lifecycle.is_scheduler_name(name):
        raise Http404("No inference scheduler can have that name.")
    submissions = list(
        Submission.objects.filter(scheduler_name=name)
        .select_related("created_by")
        .order_by("created_at", "id")
    )
    if not submissions:
        raise Http404("No submission has used this scheduler name.")
    by_pk = {submission.pk: submission for submission in submissions}
    compared = _configuration_changes(submissions)
    events = SubmissionEvent.objects.filter(submission__scheduler_name=name).select_related("actor")
    timeline = []
    for event in events.order_by("at", "id"):
        event.submission = by_pk[event.submission_id]
        before, changes = (None, None)
        if event.kind == EventKind.SUBMITTED:
            before, changes = compared[event.submission_id]
        first = event.kind == EventKind.SUBMITTED and event.submission_id == submissions[0].pk
        timeline.append(TimelineEntry(event, before, changes, first))
    return render(
        request,
        "schedulers/scheduler_history.html",
        {"name": name, "submissions": submissions[::-1], "timeline": timeline},
    )


def _configuration_changes(
    submissions: list[Submission],
) -> dict[int, tuple[Submission | None, list[Change] | None]]:
    """For each request that sets a configuration (a create, an import, an
    update, a tag change), the request that set the configuration before it and
    what changed. Start, stop and delete change no configuration."""
    result: dict[int, tuple[Submission | None, list[Change] | None]] = {}
    current: tuple[Submission, dict[str, Any]] | None = None
    for submission in submissions:
        result[submission.pk] = (None, None)
        if submission.describes_scheduler:
            configuration = _compared(submission.request)
        elif submission.operation == Operation.UPDATE and current is not None:
            # Update replaces the members it names and keeps the others.
            configuration = {**current[1], **_compared(submission.request)}
        elif submission.operation in TAGGING and current is not None:
            configuration = {**current[1], "Tags": _tags_after(current[1], submission)}
        else:
            continue
        if current is not None:
            rows = diff_requests(current[1], configuration)
            changes = [Change(path, _shown(old), _shown(new)) for path, old, new in rows]
            result[submission.pk] = (current[0], changes)
        current = (submission, configuration)
    return result


def _tags_after(configuration: dict[str, Any], change: Submission) -> list[dict[str, str]]:
    """The tags once a TagResource or UntagResource request is applied."""
    tags = {tag["Key"]: tag["Value"] for tag in configuration.get("Tags", [])}
    if change.operation == Operation.UNTAG:
        for key in change.request["TagKeys"]:
            tags.pop(key, None)
    else:
        tags.update({tag["Key"]: tag["Value"] for tag in change.request["Tags"]})
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _compared(request: dict[str, Any]) -> dict[str, Any]:
    # Every submission has its own ClientToken; that difference says nothing.
    return {key: value for key, value in request.items() if key != "ClientToken"}


def _shown(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)
