"""Live services for end-to-end tests: Redis, PostgreSQL, Celery worker processes.

A test that needs a service it cannot reach is skipped with the reason, except
under LOOKOUT_TESTS_FORBID_SKIPS=1 (CI), where it fails instead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from scheduler_ui.celery import app as celery_app

FORBID_SKIPS = os.environ.get("LOOKOUT_TESTS_FORBID_SKIPS") == "1"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
ROOT = Path(__file__).resolve().parent.parent


def require(available: bool, reason: str) -> None:
    """Skip (or, in CI, fail) a test whose service is not here."""
    if available:
        return
    if FORBID_SKIPS:
        pytest.fail(f"{reason} (LOOKOUT_TESTS_FORBID_SKIPS=1 forbids skipping)")
    pytest.skip(reason)


def redis_is_up(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def require_postgres() -> None:
    require(
        connection.vendor == "postgresql",
        "needs PostgreSQL: set DATABASE_URL=postgres://... (see README)",
    )


@pytest.fixture
def redis_url() -> str:
    """A Redis database of its own for this test, emptied first."""
    require(redis_is_up(TEST_REDIS_URL), f"needs Redis at {TEST_REDIS_URL}")
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    return TEST_REDIS_URL


@pytest.fixture(autouse=True)
def throwaway_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the test process itself publishes goes to a broker of the test's own."""
    point_celery_at(f"sqla+sqlite:///{tmp_path / 'own-broker.sqlite3'}", monkeypatch)


@pytest.fixture
def embedded_broker_url(tmp_path: Path) -> str:
    """The embedded default: kombu's SQLAlchemy transport on a SQLite file."""
    return f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"


def test_database_url() -> str:
    """A URL for the database this test runs on, for processes the test starts."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgres://{user}{password}@{db.get('HOST') or ''}:{db.get('PORT') or 5432}/{db['NAME']}"
    )


def point_celery_at(broker_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this process publish to `broker_url`. Celery prefers the environment
    variable to its configuration, and caches its producer pool."""
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    celery_app.conf.update(
        broker_url=broker_url,
        # The Redis options mean nothing to (and break) the SQLAlchemy transport.
        broker_transport_options=(
            settings.REDIS_TRANSPORT_OPTIONS if broker_url.startswith("redis") else {}
        ),
    )
    # Celery has no public way to drop its cached producer pools.
    celery_app._pool = None  # type: ignore[attr-defined]
    celery_app.amqp._producer_pool = None  # type: ignore[attr-defined]


def process_env(broker_url: str, endpoint_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": test_database_url(),
            "CELERY_BROKER_URL": broker_url,
            "LOOKOUT_ENDPOINT_URL": endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "CELERY_BEAT_SCHEDULE_FILENAME": str(tmp_path / "celerybeat-schedule"),
            # Quick delivery for tests: retries, the sweeper and status checks in seconds.
            "LOOKOUT_RETRY_BASE_SECONDS": "0.2",
            "LOOKOUT_RETRY_CAP_SECONDS": "1",
            "LOOKOUT_FOLLOW_INTERVAL_SECONDS": "0.5",
            "LOOKOUT_SWEEP_INTERVAL_SECONDS": "1",
            "LOOKOUT_REDISPATCH_AFTER_SECONDS": "15",
            "CELERY_TASK_TIME_LIMIT": "15",
            "LOOKOUT_ATTEMPT_LEASE_SECONDS": "20",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra)
    return env


class Worker:
    """A real Celery worker process (prefork pool), optionally running beat too."""

    def __init__(self, env: dict[str, str], concurrency: int = 2, beat: bool = True) -> None:
        command = [
            sys.executable, "-m", "celery", "-A", "scheduler_ui", "worker",
            "--pool", "prefork", "--concurrency", str(concurrency), "--loglevel", "WARNING",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if beat:
            command.append("--beat")
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)

    def children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()] if path.exists() else []

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL the whole worker: main process and pool children."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    workers: list[Worker] = []

    def start(
        broker_url: str,
        endpoint_url: str,
        *,
        concurrency: int = 2,
        beat: bool = True,
        env: dict[str, str] | None = None,
    ) -> Worker:
        environment = process_env(broker_url, endpoint_url, tmp_path, **(env or {}))
        worker = Worker(environment, concurrency=concurrency, beat=beat)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.stop()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for another process to make `condition` true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
