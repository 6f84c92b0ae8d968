"""The broker down at submit time: the form still answers at once and the
submission waits, queued, in the database; when Redis is back the sweeper sends
it and the workers, reconnected, carry it out."""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from scheduler_ui.schedulers.models import EventKind, State, Submission
from tests.factories import form_post
from tests.services import point_celery_at, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# Publishing gives up after three quick tries; the bound is generous on purpose.
PROMPTLY = 5.0

OUTAGE_ENV = {"LOOKOUT_SWEEP_INTERVAL_SECONDS": "1"}
# As long as the issue asks: long enough for every worker and beat to lose the
# connection, retry it several times, and for the sweeper's rounds to fail.
OUTAGE_SECONDS = 30


def submit(client, model_name):
    """POST the form; the response, and how many seconds it took."""
    started = time.monotonic()
    response = client.post(
        reverse("submission_new"),
        form_post(inference_scheduler_name=f"{model_name}-scheduler", model_name=model_name),
    )
    return response, time.monotonic() - started


def test_a_submission_made_while_the_broker_is_down_is_accepted_at_once_and_queued(
    private_redis, operator_client, monkeypatch
):
    point_celery_at(private_redis.url, monkeypatch)
    private_redis.stop()

    response, took = submit(operator_client, "pump-model")

    assert response.status_code == 302
    assert took < PROMPTLY
    page = operator_client.get(response.url).content.decode()
    assert "it is queued" in page
    assert "Queued" in page
    submission = Submission.objects.get()
    assert submission.state == State.QUEUED
    assert submission.dispatched_at is None


def test_what_was_accepted_during_an_outage_is_sent_when_the_broker_returns(
    private_redis, operator_client, lookout_endpoint, start_worker, monkeypatch
):
    point_celery_at(private_redis.url, monkeypatch)
    start_worker(private_redis.url, lookout_endpoint.url, beat=True, env=OUTAGE_ENV)
    submit(operator_client, "pump-model")
    wait_until(
        lambda: Submission.objects.filter(state=State.SUCCEEDED).exists(),
        timeout=60,
        what="the submission made before the outage to succeed",
    )

    private_redis.stop()
    stopped = time.monotonic()
    during = [submit(operator_client, "compressor-model")]
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped)))  # Redis stays down
    during.append(submit(operator_client, "fan-model"))
    private_redis.start()

    assert all(response.status_code == 302 and took < PROMPTLY for response, took in during)
    wait_until(
        lambda: not Submission.objects.exclude(state=State.SUCCEEDED).exists(),
        timeout=60,
        what="the workers, reconnected, to carry out what the sweeper sent",
    )
    resent = Submission.objects.filter(events__kind=EventKind.REDISPATCHED).distinct()
    assert sorted(resent.values_list("model_name", flat=True)) == ["compressor-model", "fan-model"]
    assert len(lookout_endpoint.backend.create_calls()) == 3
