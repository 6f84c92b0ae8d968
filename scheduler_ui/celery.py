"""The Celery app: JSON only, late acks, one message at a time per worker process."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scheduler_ui.settings")

app = Celery("scheduler_ui")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
