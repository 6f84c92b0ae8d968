from __future__ import annotations

from django.apps import AppConfig


class SchedulersConfig(AppConfig):
    name = "scheduler_ui.schedulers"
    label = "schedulers"
    verbose_name = "Inference schedulers"
