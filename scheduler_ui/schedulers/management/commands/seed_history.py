"""Fill the history with synthetic submissions and events, e.g. a million for the
benchmarks: `python manage.py seed_history --events 1000000`."""

from __future__ import annotations

import datetime
import itertools
import random
import uuid
from collections.abc import Iterator
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser
from django.db import reset_queries, transaction
from django.utils import timezone

from scheduler_ui.schedulers.models import EventKind, State, Submission, SubmissionEvent

MODELS = ("pump-model", "compressor-model", "turbine-model", "fan-model", "conveyor-model")
PEOPLE = ("seed-alice", "seed-bob", "seed-carol")
SCHEDULER_NAMES = 500
# What happens to one submission: (kind, from_state, to_state, details), in order.
STORIES: tuple[tuple[tuple[str, str, str, dict[str, Any]], ...], ...] = (
    (
        (EventKind.ATTEMPT, State.QUEUED, State.IN_FLIGHT, {"attempt": 1}),
        (EventKind.SUCCEEDED, State.IN_FLIGHT, State.SUCCEEDED, {"Status": "PENDING"}),
        (
            EventKind.STATUS_CHANGED,
            State.SUCCEEDED,
            State.SUCCEEDED,
            {"from": "PENDING", "to": "RUNNING"},
        ),
    ),
    (
        (EventKind.ATTEMPT, State.QUEUED, State.IN_FLIGHT, {"attempt": 1}),
        (
            EventKind.RETRY_SCHEDULED,
            State.IN_FLIGHT,
            State.RETRY_WAIT,
            {"code": "ThrottlingException", "message": "Rate exceeded", "retry_in_seconds": 2.0},
        ),
        (EventKind.ATTEMPT, State.RETRY_WAIT, State.IN_FLIGHT, {"attempt": 2}),
        (EventKind.SUCCEEDED, State.IN_FLIGHT, State.SUCCEEDED, {"Status": "PENDING"}),
    ),
    (
        (EventKind.ATTEMPT, State.QUEUED, State.IN_FLIGHT, {"attempt": 1}),
        (
            EventKind.FAILED,
            State.IN_FLIGHT,
            State.FAILED,
            {"code": "ValidationException", "message": "Bucket is not valid"},
        ),
    ),
)


class Command(BaseCommand):
    help = "Bulk-insert N synthetic history events (with their submissions)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--events", type=int, required=True, help="How many events.")
        parser.add_argument("--batch-size", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=0, help="Random seed.")

    def handle(self, *args: Any, **options: Any) -> None:
        made = seed_history(options["events"], options["batch_size"], options["seed"])
        self.stdout.write(f"Inserted {made} events.")


def seed_history(events: int, batch_size: int = 5000, seed: int = 0) -> int:
    """Insert `events` events spread over submissions (one a minute, the newest a
    minute ago), scheduler names, models and people, with bulk_create in batches.
    Returns how many."""
    rng = random.Random(seed)
    people = [get_user_model().objects.get_or_create(username=name)[0] for name in PEOPLE]
    now = timezone.now()
    made = 0
    plans = _plans(events, rng)
    # A submission has four events at most: a batch of events holds this many.
    while batch := list(itertools.islice(plans, max(batch_size // 4, 1))):
        with transaction.atomic():
            submissions = Submission.objects.bulk_create(
                _submission(index, story, rng, people, now) for index, story in batch
            )
            rows = [
                event
                for submission, (_, story) in zip(submissions, batch, strict=True)
                for event in _events(submission, story)
            ]
            SubmissionEvent.objects.bulk_create(rows, batch_size=batch_size)
        made += len(rows)
        reset_queries()  # with DEBUG on, Django keeps every (huge) INSERT it ran
    return made


def _plans(events: int, rng: random.Random) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """(index, story) per submission, stories cut so that the events add up exactly."""
    left, index = events, 0
    while left > 0:
        story = rng.choice(STORIES)[: left - 1]
        yield index, story
        left -= 1 + len(story)
        index += 1


def _submission(
    index: int,
    story: tuple[Any, ...],
    rng: random.Random,
    people: list[Any],
    now: datetime.datetime,
) -> Submission:
    name = f"seed-scheduler-{rng.randrange(SCHEDULER_NAMES):03d}"
    model = rng.choice(MODELS)
    token = str(uuid.UUID(int=rng.getrandbits(128)))
    created = now - datetime.timedelta(minutes=index + 1)
    final = story[-1][2] if story else State.QUEUED
    return Submission(
        request={
            "ModelName": model,
            "InferenceSchedulerName": name,
            "DataUploadFrequency": "PT10M",
            "DataInputConfiguration": {},
            "DataOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "seed-output"}},
            "RoleArn": "arn:aws:iam::123456789012:role/LookoutAccess",
            "ClientToken": token,
        },
        client_token=token,
        scheduler_name=name,
        model_name=model,
        created_by=rng.choice(people),
        created_at=created,
        dispatched_at=created,
        state=final,
        attempts=sum(1 for kind, *_ in story if kind == EventKind.ATTEMPT),
        finished_at=created + datetime.timedelta(seconds=len(story))
        if final in (State.SUCCEEDED, State.FAILED)
        else None,
    )


def _events(submission: Submission, story: tuple[Any, ...]) -> Iterator[SubmissionEvent]:
    yield SubmissionEvent(
        submission=submission,
        at=submission.created_at,
        actor=submission.created_by,
        kind=EventKind.SUBMITTED,
        to_state=State.QUEUED,
        details={"client_token": submission.client_token},
    )
    for second, (kind, from_state, to_state, details) in enumerate(story, start=1):
        yield SubmissionEvent(
            submission=submission,
            at=submission.created_at + datetime.timedelta(seconds=second),
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            details=details,
        )
