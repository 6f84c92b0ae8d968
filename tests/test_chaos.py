"""Chaos: 200 submissions go through real worker processes on a Redis of the
test's own while the endpoint throttles, fails and dawdles, workers are SIGKILLed
mid-attempt and Redis restarts (losing every message it held). Afterwards each
submission succeeded with exactly one scheduler, created under its one
ClientToken, and its history says why every attempt after the first was made."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from django.utils import timezone

from scheduler_ui.local_endpoint.backend import DEMO_MODELS
from scheduler_ui.local_endpoint.server import LocalEndpoint
from scheduler_ui.lookout import RETRYABLE_ERROR_CODES
from scheduler_ui.schedulers.models import EventKind, State, Submission
from scheduler_ui.schedulers.submitting import dispatch
from tests.factories import request_dict
from tests.services import point_celery_at, schedulers_on, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

SUBMISSIONS = 200

FAULTS = {
    "throttle_rate": 0.2,
    "internal_error_rate": 0.05,
    "internal_error_after_apply_rate": 0.03,
    "latency_ms": (20.0, 200.0),
}

# Delivery in seconds rather than minutes, in the order the settings require:
# a call's timeouts < the task's time limit < the attempt's lease, and the
# retry cap < the visibility timeout.
CHAOS_ENV = {
    "LOOKOUT_CONNECT_TIMEOUT": "1",
    "LOOKOUT_READ_TIMEOUT": "2",
    "CELERY_TASK_TIME_LIMIT": "4",
    "LOOKOUT_ATTEMPT_LEASE_SECONDS": "5",
    "LOOKOUT_RETRY_BASE_SECONDS": "0.2",
    "LOOKOUT_RETRY_CAP_SECONDS": "1",
    "CELERY_VISIBILITY_TIMEOUT": "8",
    # Enough that bad luck with the faults never exhausts a submission.
    "LOOKOUT_MAX_ATTEMPTS": "20",
    "LOOKOUT_REDISPATCH_AFTER_SECONDS": "6",
    "LOOKOUT_SWEEP_INTERVAL_SECONDS": "1",
    "LOOKOUT_FOLLOW_INTERVAL_SECONDS": "2",
    "LOOKOUT_CALLS_PER_SECOND": "50",
}


def accept_and_dispatch(number: int) -> None:
    request = request_dict(
        InferenceSchedulerName=f"chaos-{number:03d}", ModelName=DEMO_MODELS[number % 5]
    )
    dispatch(Submission.accept(request, None))


def succeeded() -> int:
    return Submission.objects.filter(state=State.SUCCEEDED).count()


def attempts_under_way() -> int:
    """Attempts started in the last second and not finished: live ones, mostly
    waiting for the endpoint (a killed one stays in flight until its lease ends)."""
    recently = timezone.now() - timedelta(seconds=1)
    return Submission.objects.filter(state=State.IN_FLIGHT, attempt_started_at__gt=recently).count()


def when(done: int, meanwhile: Callable[[], None] = lambda: None) -> None:
    """Wait until `done` submissions have succeeded and three attempts are under
    way: of two workers with two processes each, both have one busy. `meanwhile`
    runs at every look."""

    def ready() -> bool:
        meanwhile()
        return succeeded() >= done and attempts_under_way() >= 3

    wait_until(ready, timeout=60, what=f"{done} submissions to succeed, with attempts under way")


def history_gaps(submission: Submission) -> list[str]:
    """What the submission's history fails to explain: attempts without their
    event, attempts after the first that neither a retry nor a takeover (the
    previous attempt's worker died) accounts for, retries without their error."""
    events = list(submission.events.all())
    gaps = []
    if submission.attempts != sum(event.kind == EventKind.ATTEMPT for event in events):
        gaps.append(f"{submission.attempts} attempts, not as many attempt events")
    explained = True  # the first attempt needs no reason
    for event in events:
        if event.kind == EventKind.ATTEMPT:
            if not explained and "took_over" not in event.details:
                gaps.append(f"attempt {event.details['attempt']} without a reason")
            explained = False
        elif event.kind == EventKind.RETRY_SCHEDULED:
            explained = True
            if event.details["code"] not in RETRYABLE_ERROR_CODES or not event.details["message"]:
                gaps.append(f"a retry after {event.details['code']}: {event.details['message']}")
    return gaps


def created_other_than_once(endpoint: LocalEndpoint, submission: Submission) -> list[str]:
    """How the endpoint's CreateInferenceScheduler calls for this submission's
    name differ from one creation under the submission's own ClientToken."""
    calls = endpoint.backend.create_calls(submission.scheduler_name)
    problems = [
        f"sent with {c.client_token}" for c in calls if c.client_token != submission.client_token
    ]
    creations = sum(call.outcome == "created" for call in calls)
    if creations != 1:
        problems.append(f"created {creations} times")
    return problems


def test_every_submission_ends_in_one_scheduler_through_the_chaos(
    private_redis, make_lookout_endpoint, start_beat, start_worker, monkeypatch
):
    endpoint = make_lookout_endpoint(one_scheduler_per_model=False, seed=4, **FAULTS)
    point_celery_at(private_redis.url, monkeypatch)
    start_beat(private_redis.url, endpoint.url, env=CHAOS_ENV)
    new_worker = partial(start_worker, private_redis.url, endpoint.url, beat=False, env=CHAOS_ENV)
    steady, doomed = new_worker(), new_worker()

    for number in range(SUBMISSIONS):
        accept_and_dispatch(number)
    when(done=20)
    for pid in steady.children():  # the pool replaces them
        os.kill(pid, signal.SIGKILL)
    when(done=50)
    doomed.kill()
    doomed = new_worker()
    when(done=80)
    private_redis.restart()
    # Now and then kombu's Redis transport ends a worker on a broker restart (an
    # "Unrecoverable error" while it closes the lost connection: a race). Compose
    # starts it again (restart: unless-stopped), and so does this.
    workers = {"steady": steady, "doomed": doomed}

    def start_again_if_ended() -> None:
        for role, worker in workers.items():
            if worker.process.poll() is not None:
                workers[role] = new_worker()

    when(done=110, meanwhile=start_again_if_ended)
    steady, doomed = workers["steady"], workers["doomed"]
    for pid in steady.children():
        os.kill(pid, signal.SIGKILL)
    when(done=140)
    doomed.kill()
    new_worker()
    wait_until(
        lambda: not Submission.objects.exclude(state__in=[State.SUCCEEDED, State.FAILED]).exists(),
        timeout=90,
        what="every submission to end",
    )

    for fault in ("throttle_rate", "internal_error_rate", "internal_error_after_apply_rate"):
        setattr(endpoint.backend.config, fault, 0.0)  # so that the listing gets through
    ended = list(Submission.objects.prefetch_related("events"))
    assert len(ended) == SUBMISSIONS
    assert [s.scheduler_name for s in ended if s.state != State.SUCCEEDED] == []
    assert schedulers_on(endpoint) == {s.scheduler_name: s.scheduler_arn for s in ended}
    assert {s.scheduler_name: created_other_than_once(endpoint, s) for s in ended} == {
        s.scheduler_name: [] for s in ended
    }
    assert {s.scheduler_name: history_gaps(s) for s in ended} == {
        s.scheduler_name: [] for s in ended
    }
    takeovers = sum(
        "took_over" in event.details
        for s in ended
        for event in s.events.all()
        if event.kind == EventKind.ATTEMPT
    )
    assert takeovers >= 1, "no worker was killed in the middle of an attempt"
