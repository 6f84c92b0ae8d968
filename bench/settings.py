"""The console's settings plus the benchmark's baseline URL."""

from __future__ import annotations

from scheduler_ui.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
