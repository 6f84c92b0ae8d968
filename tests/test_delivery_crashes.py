"""A worker SIGKILLed at each point of an attempt: before the call left, after the
endpoint applied it but before the answer came back, and after the answer but
before the result was written. Each time a new worker takes the attempt over
once its lease has run out, sends the same request with the same ClientToken,
and the submission ends with exactly one scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import redis
from django.db import connection, transaction

from scheduler_ui.local_endpoint.server import LocalEndpoint
from scheduler_ui.schedulers import ratelimit
from scheduler_ui.schedulers.models import EventKind, State, Submission
from scheduler_ui.schedulers.ratelimit import TokenBucket
from scheduler_ui.schedulers.submitting import dispatch
from tests.factories import make_submission
from tests.services import (
    RedisServer,
    Worker,
    point_celery_at,
    require_postgres,
    schedulers_on,
    wait_until,
)

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# An attempt is taken over 4 s after it started; a call never takes that long.
CRASH_ENV = {
    "CELERY_TASK_TIME_LIMIT": "3",
    "LOOKOUT_ATTEMPT_LEASE_SECONDS": "4",
    "LOOKOUT_SWEEP_INTERVAL_SECONDS": "1",
    "LOOKOUT_CALLS_PER_SECOND": "0",
}


@dataclass
class Site:
    """A Redis of the test's own, an endpoint, and workers on both."""

    redis: RedisServer
    endpoint: LocalEndpoint
    start_worker: Callable[..., Worker]

    def worker(self, **env: str) -> Worker:
        """The worker that will be killed: no beat, so nothing else runs with it."""
        return self.start_worker(
            self.redis.url, self.endpoint.url, beat=False, env={**CRASH_ENV, **env}
        )

    def take_over(self, submission: Submission) -> Submission:
        """Start a worker with beat (whose sweeper re-dispatches the orphaned
        attempt) and wait for the submission to end."""
        self.start_worker(self.redis.url, self.endpoint.url, beat=True, env=CRASH_ENV)
        wait_until(
            lambda: Submission.objects.get(pk=submission.pk).is_terminal,
            timeout=60,
            what="another worker to take the attempt over and finish it",
        )
        submission.refresh_from_db()
        return submission


@pytest.fixture
def site(private_redis, lookout_endpoint, start_worker, monkeypatch):
    point_celery_at(private_redis.url, monkeypatch)
    return Site(private_redis, lookout_endpoint, start_worker)


def submit() -> Submission:
    submission = make_submission()
    dispatch(submission)
    return submission


def in_flight(submission: Submission) -> bool:
    return Submission.objects.get(pk=submission.pk).state == State.IN_FLIGHT


def assert_created_once(endpoint: LocalEndpoint, submission: Submission) -> None:
    assert submission.state == State.SUCCEEDED
    assert schedulers_on(endpoint) == {submission.scheduler_name: submission.scheduler_arn}
    calls = endpoint.backend.create_calls()
    assert {call.client_token for call in calls} == {submission.client_token}
    assert [call.outcome for call in calls].count("created") == 1
    [_, takeover] = submission.events.filter(kind=EventKind.ATTEMPT)
    assert "took_over" in takeover.details


def test_a_worker_killed_before_its_call_left(site):
    # The rate limit holds the worker between claiming the submission and
    # calling: the only token is gone, the next one is 100 s away.
    bucket = TokenBucket(redis.Redis.from_url(site.redis.url), ratelimit.KEY, rate=0.01)
    bucket.take()
    doomed = site.worker(LOOKOUT_CALLS_PER_SECOND="0.01")
    submission = submit()
    wait_until(lambda: in_flight(submission), timeout=30, what="the worker to claim it")

    doomed.kill()

    assert site.endpoint.backend.create_calls() == []
    submission = site.take_over(submission)
    assert_created_once(site.endpoint, submission)
    assert [call.outcome for call in site.endpoint.backend.create_calls()] == ["created"]


def test_a_worker_killed_after_the_endpoint_applied_the_create(site):
    config = site.endpoint.backend.config
    config.latency_after_apply_ms = 2500
    doomed = site.worker()
    submission = submit()
    wait_until(
        lambda: bool(site.endpoint.backend.create_calls()),
        timeout=30,
        what="the endpoint to apply the create",
    )

    doomed.kill()
    config.latency_after_apply_ms = 0

    submission = site.take_over(submission)
    assert_created_once(site.endpoint, submission)
    # The second attempt's create was answered from the first one's.
    assert [call.outcome for call in site.endpoint.backend.create_calls()] == [
        "created",
        "replayed",
    ]


def workers_waiting_for_a_row_lock() -> int:
    with connection.cursor() as cursor:
        # Activity is read once per transaction unless the snapshot is dropped.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query LIKE %s",
            ["%schedulers_submission%"],
        )
        return int(cursor.fetchone()[0])


@pytest.mark.postgres
def test_a_worker_killed_before_it_wrote_the_answer(site):
    # The test holds the submission's row lock from its own database
    # connection, so the worker, answer in hand, waits to write it.
    require_postgres()
    site.endpoint.backend.config.latency_ms = (1500.0, 1500.0)
    doomed = site.worker()
    submission = submit()
    wait_until(lambda: in_flight(submission), timeout=30, what="the worker to claim it")

    with transaction.atomic():
        Submission.objects.select_for_update().get(pk=submission.pk)
        wait_until(
            lambda: workers_waiting_for_a_row_lock() == 1,
            timeout=30,
            what="the worker to wait to write the answer",
        )
        doomed.kill()

    assert Submission.objects.get(pk=submission.pk).state == State.IN_FLIGHT
    site.endpoint.backend.config.latency_ms = (0.0, 0.0)
    submission = site.take_over(submission)
    assert_created_once(site.endpoint, submission)
    assert [call.outcome for call in site.endpoint.backend.create_calls()] == [
        "created",
        "replayed",
    ]
