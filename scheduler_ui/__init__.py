"""Lookout Scheduler Console: a team dashboard for Lookout for Equipment inference schedulers."""

from __future__ import annotations

from scheduler_ui.celery import app as celery_app

__all__ = ["celery_app"]
