"""The deployment files agree with each other and with the project: the
Procfile, compose.yaml and the Dockerfile run the same processes. (There is no
Docker here to run them; compose.yaml is checked for what it runs.)"""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
from importlib.metadata import requires
from pathlib import Path

from django.core.management import call_command
from django.db import connection

from scheduler_ui.schedulers.models import Submission
from tests.services import ROOT, require_postgres

COMPOSE = (ROOT / "compose.yaml").read_text()
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def compose_commands() -> dict[str, str]:
    """Each service's command: a service is a two-space key under services:."""
    services = COMPOSE.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
    commands = {}
    for block in re.split(r"\n(?=  [a-z-]+:\n)", services):
        name = block.strip().split(":", 1)[0]
        command = re.search(r"^    command: (.+)$", block, re.MULTILINE)
        commands[name] = command.group(1) if command else ""
    return commands


def test_the_procfile_runs_web_worker_and_beat():
    assert set(procfile()) == {"web", "worker", "beat"}
    assert procfile()["web"].startswith("gunicorn scheduler_ui.wsgi ")


def test_compose_runs_what_the_procfile_runs_on_port_8000():
    commands = compose_commands()

    for process, command in procfile().items():
        assert commands[process] == command.replace("$PORT", "8000")


def test_compose_has_postgres_and_redis_and_migrates_before_the_rest_start():
    commands = compose_commands()

    assert {"web", "worker", "beat", "migrate", "postgres", "redis"} <= set(commands)
    assert commands["migrate"] == "python manage.py migrate --noinput"
    assert COMPOSE.count("condition: service_completed_successfully") == 3
    assert "CELERY_BROKER_URL: redis://redis:6379/0" in COMPOSE
    assert "DATABASE_URL: postgres://console:" in COMPOSE


def test_compose_refuses_to_start_without_the_production_secrets():
    for name in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "POSTGRES_PASSWORD"):
        assert f"${{{name}:?set {name}}}" in COMPOSE
    assert 'DJANGO_DEBUG: "0"' in COMPOSE


def test_the_image_installs_the_project_and_its_static_files_and_serves_the_web():
    cmd = re.search(r"^CMD (.+)$", DOCKERFILE, re.MULTILINE)

    assert "FROM python:3.11-slim" in DOCKERFILE
    assert "pip install -e ." in DOCKERFILE
    assert "manage.py collectstatic --noinput" in DOCKERFILE
    assert "USER console" in DOCKERFILE
    assert cmd is not None
    assert shlex.join(json.loads(cmd.group(1))) == compose_commands()["web"]


def gunicorn_settings(monkeypatch, web_concurrency: str | None = None) -> dict[str, object]:
    if web_concurrency is None:
        monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    else:
        monkeypatch.setenv("WEB_CONCURRENCY", web_concurrency)
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def on_cores(monkeypatch, count: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(count)))


def test_the_web_runs_two_processes_per_core_plus_one(monkeypatch):
    # One process uses one core at a time: gunicorn's default of one process
    # would leave the others idle.
    on_cores(monkeypatch, 2)

    assert gunicorn_settings(monkeypatch)["workers"] == 5


def test_the_web_runs_at_most_eight_processes_on_a_large_host(monkeypatch):
    # Each thread may hold one of PostgreSQL's 100 default connections.
    on_cores(monkeypatch, 64)

    assert gunicorn_settings(monkeypatch)["workers"] == 8


def test_web_concurrency_sets_the_number_of_web_processes(monkeypatch):
    assert gunicorn_settings(monkeypatch, "3")["workers"] == 3


def test_web_processes_are_threaded_so_a_long_export_is_not_killed(monkeypatch):
    # A sync worker is killed after gunicorn's timeout, mid-export.
    assert gunicorn_settings(monkeypatch)["worker_class"] == "gthread"


def test_a_web_process_takes_a_connection_only_when_a_thread_is_free(monkeypatch):
    # Otherwise a busy process queues connections that an idle one could serve.
    settings = gunicorn_settings(monkeypatch)

    assert settings["worker_connections"] == settings["threads"]
    assert settings["keepalive"] == 0


def test_gunicorn_is_a_runtime_dependency():
    runtime = [r for r in requires("lookout-scheduler-console") or [] if "extra ==" not in r]

    assert any(r.startswith("gunicorn") for r in runtime)


def test_secrets_and_local_state_stay_out_of_the_image():
    ignored = Path(ROOT / ".dockerignore").read_text().split()

    assert {".env", ".git", ".venv", "var"} <= set(ignored)


def test_the_migrations_describe_the_models(db):
    # A model change without its migration would reach a team's database only
    # as an error at the first query that needs it.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_postgresql_plans_a_query_once_per_connection_when_it_repeats(db):
    require_postgres()
    for _ in range(6):
        list(Submission.objects.filter(scheduler_name="pump-7"))

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["%schedulers_submission%scheduler_name%"],
        )
        (prepared,) = cursor.fetchone()

    assert prepared == 1
