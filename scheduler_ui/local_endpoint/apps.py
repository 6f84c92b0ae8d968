from __future__ import annotations

from django.apps import AppConfig


class LocalEndpointConfig(AppConfig):
    """The local Lookout for Equipment endpoint; it has no models, only a command."""

    name = "scheduler_ui.local_endpoint"
    label = "local_endpoint"
    verbose_name = "Local Lookout for Equipment endpoint"
