"""export_schedulers: every scheduler's configuration, as DescribeInferenceScheduler
returns it, and the console's whole history, as one JSON document.

Lookout for Equipment has reached its end of support, and teams must keep their
records. The document is written as it is read (submissions and events come
from the database in chunks), so memory stays flat however long the history.
If the endpoint cannot be reached the history is still exported, and the
document and standard error say what is missing.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from scheduler_ui.lookout import error_code_and_message, list_all, make_client
from scheduler_ui.schedulers.models import Submission, SubmissionEvent

CHUNK_SIZE = 2000

Write = Callable[[str], object]


class Command(BaseCommand):
    help = "Export every scheduler's configuration and the full history as JSON."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", type=Path, help="Write here instead of standard output.")

    def handle(self, *args: Any, output: Path | None = None, **options: Any) -> None:
        if output is None:
            counts = export(lambda text: self.stdout.write(text, ending=""), self.stderr.write)
        else:
            with output.open("w", encoding="utf-8") as stream:
                counts = export(stream.write, self.stderr.write)
        self.stderr.write(
            f"Exported {counts['schedulers']} schedulers and {counts['submissions']} submissions"
            f" with {counts['events']} events{f' to {output}' if output else ''}."
        )


def export(write: Write, warn: Callable[[str], None]) -> dict[str, int]:
    """Write the document; say what the endpoint would not give on `warn`."""
    counts = {"schedulers": 0, "submissions": 0, "events": 0}
    errors: list[str] = []
    write("{\n")
    write(f'  "exported_at": {_dumps(timezone.now())},\n')
    endpoint = settings.LOOKOUT_ENDPOINT_URL or f"AWS ({settings.AWS_REGION})"
    write(f'  "endpoint": {_dumps(endpoint)},\n')
    counts["schedulers"] = _write_list(write, "schedulers", _schedulers(errors))
    for error in errors:
        warn(f"Not exported: {error}")
    if errors:
        warn("The scheduler configurations are incomplete; the history is exported in full.")
    write(f',\n  "schedulers_complete": {_dumps(not errors)},\n')
    write(f'  "endpoint_errors": {_dumps(errors)},\n')
    counts["submissions"] = _write_list(write, "submissions", _submissions(counts))
    write("\n}\n")
    return counts


def _schedulers(errors: list[str]) -> Iterator[dict[str, Any]]:
    """Each scheduler as DescribeInferenceScheduler returns it; what fails goes to `errors`."""
    client = make_client()
    try:
        summaries = list_all(client, "ListInferenceSchedulers", "InferenceSchedulerSummaries")
    except (BotoCoreError, ClientError) as error:
        errors.append(f"ListInferenceSchedulers: {_describe_error(error)}")
        return
    for summary in summaries:
        name = summary["InferenceSchedulerName"]
        try:
            described = client.describe_inference_scheduler(InferenceSchedulerName=name)
        except ClientError as error:  # e.g. deleted since it was listed; the others may answer
            errors.append(f"DescribeInferenceScheduler {name}: {_describe_error(error)}")
            continue
        except BotoCoreError as error:  # the endpoint is gone: asking on would only wait
            errors.append(f"DescribeInferenceScheduler {name}: {_describe_error(error)}")
            return
        yield {key: value for key, value in described.items() if key != "ResponseMetadata"}


def _describe_error(error: Exception) -> str:
    found = error_code_and_message(error)
    code, message = found if found is not None else (type(error).__name__, str(error))
    return f"{code}: {message}"


def _submissions(counts: dict[str, int]) -> Iterator[dict[str, Any]]:
    """Every submission, oldest first, with its events: two ordered reads merged
    as they go, rather than a query a submission."""
    submissions = (
        Submission.objects.select_related("created_by").order_by("pk").iterator(CHUNK_SIZE)
    )
    events = (
        SubmissionEvent.objects.select_related("actor")
        .order_by("submission_id", "at", "pk")
        .iterator(CHUNK_SIZE)
    )
    event = next(events, None)
    for submission in submissions:
        # Events of submissions made since the first read began belong to none read here.
        while event is not None and event.submission_id < submission.pk:
            event = next(events, None)
        own = []
        while event is not None and event.submission_id == submission.pk:
            own.append(_record(event, exclude={"submission"}))
            event = next(events, None)
        counts["events"] += len(own)
        yield {**_record(submission), "events": own}


def _record(instance: models.Model, exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Every stored field of a row; people by their username."""
    record: dict[str, Any] = {}
    for field in type(instance)._meta.concrete_fields:
        if field.name in exclude:
            continue
        if field.is_relation and field.related_model is get_user_model():
            user = getattr(instance, field.name)
            record[field.name] = user.get_username() if user is not None else None
        else:
            record[field.name] = field.value_from_object(instance)
    return record


def _write_list(write: Write, key: str, items: Iterable[dict[str, Any]]) -> int:
    """`"key": [...]`, one item a line, written as each item comes."""
    write(f"  {_dumps(key)}: [")
    count = 0
    for item in items:
        write(f"{',' if count else ''}\n    {_dumps(item)}")
        count += 1
    write("\n  ]" if count else "]")
    return count


class _Encoder(DjangoJSONEncoder):
    """Times to the microsecond (DjangoJSONEncoder keeps milliseconds): the
    history orders events by them."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime.datetime):
            return o.isoformat()
        return super().default(o)


def _dumps(value: Any) -> str:
    return json.dumps(value, cls=_Encoder)
