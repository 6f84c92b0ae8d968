"""Beat's periodic tasks (the sweeper, the status sync): each run that ends is
recorded, the settings page shows the last ones, and the overview says when work
waits and no worker seems to be running."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from scheduler_ui.schedulers import tasks
from scheduler_ui.schedulers.models import PeriodicRun, State, Submission
from tests.factories import make_submission
from tests.services import point_celery_at, wait_until

SWEEP_EVERY = datetime.timedelta(seconds=30)


@pytest.fixture
def schedule(settings):
    """Beat's schedule as deployed by default: the sweeper every 30 s, the sync every 5 s."""
    settings.CELERY_BEAT_SCHEDULE = {
        "sweep": {**settings.CELERY_BEAT_SCHEDULE["sweep"], "schedule": 30},
        "follow-statuses": {**settings.CELERY_BEAT_SCHEDULE["follow-statuses"], "schedule": 5},
    }


def status_of(name: str, now: datetime.datetime) -> tuple[bool, str]:
    (found,) = [p for p in PeriodicRun.schedule(now) if p.name == name]
    return found.overdue, found.worker


def test_each_periodic_task_records_its_run_under_its_name_in_beats_schedule(lookout):
    tasks.sweep.apply()
    tasks.follow_statuses.apply()

    assert set(PeriodicRun.objects.values_list("name", flat=True)) == set(
        settings.CELERY_BEAT_SCHEDULE
    )


def test_a_second_run_writes_over_the_first(db):
    PeriodicRun.record("sweep", "celery@first")
    PeriodicRun.record("sweep", "celery@second")

    assert list(PeriodicRun.objects.values_list("name", "worker")) == [("sweep", "celery@second")]


def ran_at(name: str) -> datetime.datetime:
    PeriodicRun.record(name, "celery@host")
    return PeriodicRun.objects.get(name=name).finished_at


def test_a_periodic_task_is_on_time_for_three_of_its_intervals(db, schedule):
    at = ran_at("sweep")

    assert status_of("sweep", at + 3 * SWEEP_EVERY) == (False, "celery@host")


def test_a_periodic_task_is_late_after_three_of_its_intervals(db, schedule):
    at = ran_at("sweep")

    overdue, _ = status_of("sweep", at + 3 * SWEEP_EVERY + datetime.timedelta(seconds=1))

    assert overdue


def test_a_frequent_task_is_late_only_after_a_minute(db, schedule):
    at = ran_at("follow-statuses")

    assert not status_of("follow-statuses", at + datetime.timedelta(seconds=60))[0]
    assert status_of("follow-statuses", at + datetime.timedelta(seconds=61))[0]


def test_a_periodic_task_that_never_ran_is_late(db):
    assert status_of("sweep", timezone.now()) == (True, "")


def test_the_settings_page_shows_each_periodic_tasks_last_run(viewer_client, lookout):
    PeriodicRun.record("sweep", "celery@worker-1")

    response = viewer_client.get(reverse("settings"))

    sweep = response.text.split('data-testid="periodic-sweep"')[1].split("</tr>")[0]
    sync = response.text.split('data-testid="periodic-follow-statuses"')[1].split("</tr>")[0]
    assert "The sweeper" in sweep and "celery@worker-1" in sweep and "On time" in sweep
    assert "The status sync" in sync and "never" in sync and "Late" in sync


def test_the_overview_warns_when_work_waits_and_no_periodic_task_ran(viewer_client):
    make_submission()

    response = viewer_client.get(reverse("overview"))

    assert 'data-testid="stalled"' in response.text
    assert "have never finished" in response.text


def test_the_overview_says_when_a_worker_was_last_heard_from(viewer_client):
    make_submission()
    for name in settings.CELERY_BEAT_SCHEDULE:
        PeriodicRun.record(name, "celery@host")

    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=10)):
        response = viewer_client.get(reverse("overview"))

    assert "last finished 10\xa0minutes ago" in response.text


def test_the_overview_does_not_warn_while_a_periodic_task_runs_on_time(viewer_client):
    make_submission()
    PeriodicRun.record("follow-statuses", "celery@host")

    response = viewer_client.get(reverse("overview"))

    assert 'data-testid="stalled"' not in response.text


def test_the_overview_does_not_warn_when_no_work_waits(viewer_client):
    done = make_submission()
    Submission.objects.filter(pk=done.pk).update(state=State.SUCCEEDED)

    response = viewer_client.get(reverse("overview"))

    assert 'data-testid="stalled"' not in response.text


@pytest.mark.django_db(transaction=True)
def test_a_worker_running_beat_records_every_periodic_task(
    embedded_broker_url, make_lookout_endpoint, start_worker, monkeypatch, viewer_client
):
    endpoint = make_lookout_endpoint()
    point_celery_at(embedded_broker_url, monkeypatch)
    start_worker(embedded_broker_url, endpoint.url)

    wait_until(
        lambda: PeriodicRun.objects.count() == len(settings.CELERY_BEAT_SCHEDULE),
        timeout=60,
        what="beat's periodic tasks to finish on the worker",
    )

    response = viewer_client.get(reverse("settings"))
    assert response.text.count("On time") == len(settings.CELERY_BEAT_SCHEDULE)
    assert all(run.worker.startswith("celery@") for run in PeriodicRun.objects.all())
