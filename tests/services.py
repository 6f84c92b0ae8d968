"""Live services for end-to-end tests: Redis, PostgreSQL, Celery worker and beat
processes, and a Redis server of a test's own that it may stop and start.

A test that needs a service it cannot reach is skipped with the reason, except
under LOOKOUT_TESTS_FORBID_SKIPS=1 (CI), where it fails instead.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
from django.conf import settings
from django.db import connection

from scheduler_ui.celery import app as celery_app
from scheduler_ui.local_endpoint.server import LocalEndpoint

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


@pytest.fixture(autouse=True)
def never_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls the test process makes go to a closed local port unless a test
    points them at a local endpoint: a developer's AWS credentials never reach AWS."""
    monkeypatch.setattr(settings, "LOOKOUT_ENDPOINT_URL", "http://127.0.0.1:9")


@pytest.fixture(autouse=True)
def no_rate_limit_here(monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls the test process itself makes to AWS skip the global rate limit (it
    would count them in whatever Redis CELERY_BROKER_URL names); worker processes
    keep it, and tests of the limit turn it on."""
    monkeypatch.setattr(settings, "LOOKOUT_CALLS_PER_SECOND", 0)


class RedisServer:
    """A redis-server of the test's own on a free port, so that the test may stop
    and restart it without disturbing anyone else's Redis. It saves nothing: a
    restart loses every message, as a crash of an unpersisted Redis does."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        wait_until(lambda: redis_is_up(self.url), timeout=10, what=f"Redis on port {self.port}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis server of this test's own, running; the test may stop and restart it."""
    require(
        shutil.which("redis-server") is not None,
        "needs redis-server (apt-get install redis-server) for a Redis of the test's own",
    )
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


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


class CeleryProcess:
    """A real Celery process, in a session of its own so that it is stopped whole."""

    def __init__(self, arguments: list[str], env: dict[str, str]) -> None:
        command = [sys.executable, "-m", "celery", "-A", "scheduler_ui", *arguments]
        self.process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole process group: a worker's main process and pool children."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


class Worker(CeleryProcess):
    """A real Celery worker process (prefork pool), optionally running beat too."""

    def __init__(self, env: dict[str, str], concurrency: int = 2, beat: bool = True) -> None:
        arguments = [
            "worker", "--pool", "prefork", "--concurrency", str(concurrency),
            "--loglevel", "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if beat:
            arguments.append("--beat")
        super().__init__(arguments, env)

    def children(self) -> list[int]:
        """The pool processes (and the embedded beat, if any), as they are now."""
        pid = self.process.pid
        # Any thread of the worker may have started them (the pool replaces lost ones).
        paths = Path(f"/proc/{pid}/task").glob("*/children")
        return [int(child) for path in paths for child in path.read_text().split()]


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
    kill_all(workers)


@pytest.fixture
def start_beat(tmp_path: Path) -> Iterator[Callable[..., CeleryProcess]]:
    """Start Celery beat (the sweeper and the status follower) as a process of its
    own, so that workers can be killed without stopping it."""
    started: list[CeleryProcess] = []

    def start(
        broker_url: str, endpoint_url: str, *, env: dict[str, str] | None = None
    ) -> CeleryProcess:
        environment = process_env(broker_url, endpoint_url, tmp_path, **(env or {}))
        beat = CeleryProcess(["beat", "--loglevel", "WARNING"], environment)
        started.append(beat)
        return beat

    yield start
    kill_all(started)


def kill_all(processes: Sequence[CeleryProcess]) -> None:
    """End a test's Celery processes at once: what they were doing no longer
    matters, and a warm shutdown takes seconds each."""
    for process in processes:
        process.kill()


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait for another process to make `condition` true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def schedulers_on(endpoint: LocalEndpoint) -> dict[str, str]:
    """Every inference scheduler the endpoint holds, name → ARN (ask with its
    faults turned off: the listing goes through them too)."""
    found: dict[str, str] = {}
    params: dict[str, Any] = {}
    while True:
        page = endpoint.backend.invoke("ListInferenceSchedulers", params)
        for summary in page["InferenceSchedulerSummaries"]:
            found[summary["InferenceSchedulerName"]] = summary["InferenceSchedulerArn"]
        if "NextToken" not in page:
            return found
        params = {"NextToken": page["NextToken"]}
