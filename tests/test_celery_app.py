"""The Celery app's wiring: database connections around tasks, the periodic tasks."""

from __future__ import annotations

import pytest
from celery.beat import Scheduler
from django.db import connection

from scheduler_ui.celery import app, close_old_database_connections
from scheduler_ui.schedulers import tasks


@pytest.fixture
def fresh_connection(transactional_db, monkeypatch):
    """Open a new connection with the given CONN_MAX_AGE (read when it opens)."""

    def open_with(max_age: int) -> object:
        monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", max_age)
        connection.close()
        connection.ensure_connection()
        return connection.connection

    return open_with


def test_a_task_keeps_a_database_connection_younger_than_its_max_age(fresh_connection):
    opened = fresh_connection(60)

    close_old_database_connections(sender=tasks.submit_submission)

    assert connection.connection is opened


def test_a_task_closes_the_database_connection_when_none_is_to_be_kept(fresh_connection):
    fresh_connection(0)

    close_old_database_connections(sender=tasks.submit_submission)

    assert connection.connection is None


def test_each_periodic_task_expires_after_one_interval(settings):
    """One that waited in the queue longer, behind a burst of submissions, is
    dropped by the worker; the next one is already on its way."""
    entries = Scheduler(app).schedule

    assert {name: (entry.options or {}).get("expires") for name, entry in entries.items()} == {
        "follow-statuses": settings.LOOKOUT_FOLLOW_INTERVAL_SECONDS,
        "sweep": settings.LOOKOUT_SWEEP_INTERVAL_SECONDS,
    }


def queue_of(task: str) -> str:
    return str(app.amqp.router.route({}, f"scheduler_ui.schedulers.tasks.{task}")["queue"].name)


def test_the_status_sync_and_a_refresh_have_a_queue_of_their_own():
    assert {queue_of("follow_statuses"), queue_of("refresh_status")} == {"status"}


def test_submissions_and_the_sweep_wait_in_the_default_queue():
    """Behind the submissions, the sweep never takes one still waiting its turn
    for a lost one."""
    assert {queue_of("submit_submission"), queue_of("sweep")} == {"celery"}


def test_a_worker_reads_both_queues_unless_told_otherwise():
    assert set(app.amqp.queues) == {"celery", "status"}
