"""The Celery app: JSON only, late acks, one message at a time per worker process."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun, worker_process_init
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_ui.settings")
log = logging.getLogger(__name__)

app = Celery("scheduler_ui")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def close_old_database_connections(sender: Task[Any, Any], **_: Any) -> None:
    """Around each task, close the database connections that are too old or
    broken, as Django does around a web request: kept for DATABASE_CONN_MAX_AGE
    seconds, a connection saves the task a reconnection."""
    if not sender.request.is_eager:
        close_old_connections()


@worker_process_init.connect
def make_the_lookout_client(**_: Any) -> None:
    """Build the boto3 client (a tenth of a second of loading the service model)
    when a worker process starts, not during its first submission. A client that
    cannot be built is left for the first task to report."""
    from scheduler_ui.lookout import make_client

    try:
        make_client()
    except Exception:
        log.warning("could not build the Lookout for Equipment client yet", exc_info=True)
