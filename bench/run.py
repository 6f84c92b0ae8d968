"""`make bench`: the console on the team setup (PostgreSQL, Redis, gunicorn,
real Celery workers, the local endpoint), each figure next to a baseline
measured in the same run. Writes var/bench/report.md and report.json.

Needs PostgreSQL and Redis on this machine (BENCH_POSTGRES_URL, BENCH_REDIS_URL).
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import psycopg
import redis
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "var" / "bench"
PYTHON = sys.executable
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
DATABASE = "bench_console"
USERNAME, PASSWORD = "bench", "bench-password-1"

WEB_CLIENTS = 32
WEB_SECONDS = float(os.environ.get("BENCH_WEB_SECONDS", 15))
PIPELINE_SUBMISSIONS = int(os.environ.get("BENCH_PIPELINE_SUBMISSIONS", 1000))
PIPELINE_CONCURRENCY = 8
PIPELINE_WORKERS = 2
PIPELINE_LATENCY_MS = 50
HISTORY_EVENTS = int(os.environ.get("BENCH_HISTORY_EVENTS", 1_000_000))
HISTORY_REQUESTS = 40
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Console and baseline alternate this many times (this machine's speed drifts
# by tens of percent within a minute): the web benchmark's rounds are short.
WEB_ROUNDS = 5
PIPELINE_ROUNDS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def peak_rss_mb(pid: int) -> float:
    """The peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """The CPU time (user and system) a process has used so far; 0 once it is gone.
    With `reaped`, also that of its children that have ended (the kernel adds it
    to the parent's when the parent reaps them)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if reaped:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def pids_of(program: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == program:
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


# --- The stack -------------------------------------------------------------------


@dataclass
class Stack:
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [PYTHON, "manage.py", *args],
            env=self.env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        return done.stdout

    def start(self, name: str, command: list[str], ready: Callable[[], bool]) -> int:
        log = (OUT / f"{name}.log").open("w")
        process = subprocess.Popen(
            command,
            env=self.env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process
        deadline = time.monotonic() + 60
        while not ready():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start; see {OUT / (name + '.log')}")
            time.sleep(0.2)
        return process.pid

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for name in list(self.processes):
            self.stop(name)

    def cpu(self) -> dict[str, float]:
        """CPU seconds used so far by each part: the processes started here
        (gunicorn with its workers; the Celery workers' main processes, and
        their pools; numbered names counted together), PostgreSQL, Redis, and
        this "bench process" (the web clients, the plain script). On two shared
        cores, this is what limits throughput."""
        parts: dict[str, float] = {}

        def add(part: str, seconds: float) -> None:
            parts[part] = parts.get(part, 0.0) + seconds

        for name, process in self.processes.items():
            part = name.rstrip("-0123456789")
            own = cpu_seconds(process.pid)
            pool = sum(cpu_seconds(pid) for pid in children(process.pid))
            if part == "worker":
                # A worker's main process takes the messages from Redis and
                # acknowledges them; its pool processes run the tasks.
                add("worker main", own)
                add("worker pool", pool)
            else:
                add(part, own + pool)
        # A PostgreSQL backend ends when its connection closes (a worker's, at
        # DATABASE_CONN_MAX_AGE): its time, before and during the measurement,
        # then moves to the postmaster's reaped total, and stays in the sum.
        for program in ("postgres", "redis-server"):
            parts[program] = sum(cpu_seconds(pid, reaped=True) for pid in pids_of(program))
        parts["bench process"] = cpu_seconds(os.getpid())
        return parts


def cpu_used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {part: seconds - before.get(part, 0.0) for part, seconds in after.items()}


def cpu_ms_each(used: dict[str, float], count: int) -> dict[str, float]:
    """CPU used, in milliseconds per request or submission, largest part first."""
    each = {part: seconds * 1000 / count for part, seconds in used.items()}
    return {part: ms for part, ms in sorted(each.items(), key=lambda kv: -kv[1]) if ms >= 0.01}


def listening(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check


def gunicorn(stack: Stack, port: int, workers: int | None = None) -> int:
    """gunicorn as deployed (gunicorn.conf.py), with `workers` processes if given."""
    return stack.start(
        "web" if workers is None else f"web-{workers}",
        [
            PYTHON,
            "-m",
            "gunicorn",
            "scheduler_ui.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            *(() if workers is None else ("--workers", str(workers))),
        ],
        listening(port),
    )


# --- HTTP clients ------------------------------------------------------------------


class Browser:
    """One logged-in client: a session cookie, a CSRF token, plain http.client."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.request("GET", "/accounts/login/")
        self.request("POST", "/accounts/login/", {"username": USERNAME, "password": PASSWORD})
        if "sessionid" not in self.cookies:
            raise RuntimeError("benchmark login failed")

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            form = {**form, "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")}
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://127.0.0.1:{self.port}/"
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        content = response.read()
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        # A browser shows a message on the page a POST redirects to, which clears
        # it; these clients do not fetch that page, so they must not pile
        # messages up either (past the cookie's size they go into the session).
        self.cookies.pop("messages", None)
        connection.close()
        return response.status, content


@dataclass
class Load:
    """Requests timed under load: each one's latency, and the wall time of them all."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def add(self, other: Load) -> None:
        self.latencies += other.latencies
        self.errors += other.errors
        self.seconds += other.seconds
        for part, seconds in other.cpu.items():
            self.cpu[part] = self.cpu.get(part, 0.0) + seconds

    def summary(self) -> dict[str, Any]:
        return {
            "requests": len(self.latencies),
            "errors": self.errors,
            "throughput_rps": self.throughput,
            "p50_ms": percentile(self.latencies, 0.50) * 1000,
            "p99_ms": percentile(self.latencies, 0.99) * 1000,
            "cpu_ms_per_request": cpu_ms_each(self.cpu, len(self.latencies)),
        }


def load(
    stack: Stack,
    browsers: list[Browser],
    path: str,
    make_form: Callable[[int, int], dict[str, str]],
    seconds: float,
) -> Load:
    """Every browser POSTing as fast as it can for `seconds`."""
    result = Load()
    lock = threading.Lock()
    cpu_before = stack.cpu()
    start = time.monotonic()
    stop_at = start + seconds

    def client(index: int) -> None:
        n = 0
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            status, _ = browsers[index].request("POST", path, make_form(index, n))
            took = time.perf_counter() - began
            with lock:
                result.latencies.append(took)
                result.errors += status != 302
            n += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(browsers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - start
    result.cpu = cpu_used(cpu_before, stack.cpu())
    return result


def baseline_form(client: int, n: int) -> dict[str, str]:
    return {"n": str(n)}


def scheduler_form(run: str) -> Callable[[int, int], dict[str, str]]:
    def make(client: int, n: int) -> dict[str, str]:
        return {
            "inference_scheduler_name": f"bench-{run}-{client}-{n}",
            "model_name": "pump-model",
            "data_upload_frequency": "PT10M",
            "output_bucket": "bench-output",
            "role_arn": "arn:aws:iam::123456789012:role/Bench",
            "tags-TOTAL_FORMS": "1",
            "tags-INITIAL_FORMS": "0",
            "tags-0-key": "bench",
            "tags-0-value": run,
        }

    return make


# --- The benchmarks ------------------------------------------------------------------


def progress(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def bench_endpoint(stack: Stack, endpoint_url: str) -> dict[str, Any]:
    """The local endpoint's speed: DescribeModel from 8 threads, as fast as their
    boto3 client allows, and the endpoint's own CPU per call (the calls it could
    answer on one core)."""
    progress("the local endpoint's own speed")
    client = lookout_client(endpoint_url)
    calls = 4000

    def call(_: int) -> None:
        client.describe_model(ModelName="pump-model")

    cpu_before = stack.cpu()
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(call, range(calls)))
    elapsed = time.monotonic() - start
    endpoint_seconds = cpu_used(cpu_before, stack.cpu())["endpoint"]
    return {
        "calls": calls,
        "calls_per_second": calls / elapsed,
        "cpu_ms_per_call": endpoint_seconds * 1000 / calls,
        "share_of_a_core": endpoint_seconds / elapsed,
    }


def lookout_client(endpoint_url: str) -> Any:
    return boto3.client(
        "lookoutequipment",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=64),
    )


def bench_web(stack: Stack) -> dict[str, Any]:
    """The form against the baseline, in alternating rounds: a machine that
    slows down for a while slows both down alike."""
    progress(
        f"web: {WEB_CLIENTS} clients POSTing, baseline and form alternately, "
        f"{WEB_SECONDS:.0f} s each in {WEB_ROUNDS} rounds"
    )
    port = free_port()
    web_pid = gunicorn(stack, port)
    browsers = [Browser(port) for _ in range(WEB_CLIENTS)]
    baseline, form, round_ratios = Load(), Load(), []
    for round_ in range(WEB_ROUNDS):
        base_round = load(
            stack, browsers, "/bench/baseline/", baseline_form, WEB_SECONDS / WEB_ROUNDS
        )
        form_round = load(
            stack,
            browsers,
            "/schedulers/new/",
            scheduler_form(f"web{round_}"),
            WEB_SECONDS / WEB_ROUNDS,
        )
        baseline.add(base_round)
        form.add(form_round)
        round_ratios.append(form_round.throughput / base_round.throughput)
    # One client alone: how long a request takes with no queue in front of it.
    alone = {
        "baseline": load(stack, browsers[:1], "/bench/baseline/", baseline_form, WEB_SECONDS / 3),
        "form": load(
            stack, browsers[:1], "/schedulers/new/", scheduler_form("alone"), WEB_SECONDS / 3
        ),
    }
    processes = children(web_pid)
    rss = max(peak_rss_mb(pid) for pid in processes)
    stack.stop("web")
    return {
        "baseline": baseline.summary(),
        "form": form.summary(),
        "one_client": {name: result.summary() for name, result in alone.items()},
        "throughput_ratio": form.throughput / baseline.throughput,
        "round_ratios": round_ratios,
        "web_processes": len(processes),
        "web_worker_peak_rss_mb": rss,
    }


def bench_pipeline(stack: Stack, endpoint_url: str) -> dict[str, Any]:
    """Submissions from accepted to RUNNING recorded, against a plain boto3 script
    doing the same create and describe calls with the same concurrency: worker
    processes of the same total concurrency, beat following the statuses. The
    two alternate for a few rounds; the round with the median ratio is reported."""
    from scheduler_ui.celery import app

    progress(
        f"pipeline: {PIPELINE_SUBMISSIONS} schedulers, plain boto3 and the console "
        f"alternately, {PIPELINE_ROUNDS} rounds"
    )
    workers = [
        stack.start(
            f"worker-{i}",
            [
                PYTHON,
                "-m",
                "celery",
                "-A",
                "scheduler_ui",
                "worker",
                "--loglevel",
                "WARNING",
                "--concurrency",
                str(PIPELINE_CONCURRENCY // PIPELINE_WORKERS),
                "--without-gossip",
                "--without-mingle",
                "--hostname",
                f"bench{i}@%h",
                # Consuming nothing until a round's clock starts (see run_console).
                "--queues",
                "idle",
            ],
            lambda: True,
        )
        for i in range(PIPELINE_WORKERS)
    ]
    stack.start(
        "beat",
        [
            PYTHON,
            "-m",
            "celery",
            "-A",
            "scheduler_ui",
            "beat",
            "--loglevel",
            "WARNING",
            "--schedule",
            str(OUT / "celerybeat-schedule"),
        ],
        lambda: True,
    )
    while len(app.control.ping(timeout=1) or []) < len(workers):
        time.sleep(0.2)
    floor_seconds, floor_cpu = celery_floor(stack, app)
    # What-if: the same with every call answered after PIPELINE_LATENCY_MS, as a
    # remote API's would be. First, so that the rounds after it restart the
    # console's endpoint without the delay.
    slow_baseline, _ = run_plain_script(stack, PIPELINE_ROUNDS, PIPELINE_LATENCY_MS)
    slow_console, _ = run_console(stack, app, endpoint_url, PIPELINE_LATENCY_MS)
    rounds: list[dict[str, Any]] = []
    for round_ in range(PIPELINE_ROUNDS):
        baseline, baseline_cpu = run_plain_script(stack, round_)
        console, console_cpu = run_console(stack, app, endpoint_url)
        rounds.append(
            {
                "baseline_seconds": baseline,
                "console_seconds": console,
                "baseline_cpu_ms_per_scheduler": baseline_cpu,
                "console_cpu_ms_per_submission": console_cpu,
                "ratio": console / baseline,
                "baseline_endpoint_share_of_a_core": share_of_a_core(
                    baseline_cpu, "baseline-endpoint", baseline
                ),
                "console_endpoint_share_of_a_core": share_of_a_core(
                    console_cpu, "endpoint", console
                ),
            }
        )
    worker_rss = max(peak_rss_mb(pid) for w in workers for pid in [w, *children(w)])
    for name in ("beat", *(f"worker-{i}" for i in range(PIPELINE_WORKERS))):
        stack.stop(name)
    median = sorted(rounds, key=lambda figures: figures["ratio"])[len(rounds) // 2]
    return {
        "submissions": PIPELINE_SUBMISSIONS,
        "concurrency": PIPELINE_CONCURRENCY,
        **median,
        "rounds": rounds,
        "celery_floor_seconds": floor_seconds,
        "celery_floor_cpu_ms_per_task": floor_cpu,
        "with_latency": {
            "latency_ms": PIPELINE_LATENCY_MS,
            "baseline_seconds": slow_baseline,
            "console_seconds": slow_console,
            "ratio": slow_console / slow_baseline,
        },
        "worker_peak_rss_mb": worker_rss,
    }


def share_of_a_core(cpu_ms_per_submission: dict[str, float], part: str, seconds: float) -> float:
    """How busy a part of the stack kept one core during a pipeline round; a
    part near 1 is what limits the round."""
    return cpu_ms_per_submission.get(part, 0.0) * PIPELINE_SUBMISSIONS / 1000 / seconds


def run_plain_script(
    stack: Stack, round_: int, latency_ms: float = 0
) -> tuple[float, dict[str, float]]:
    """The baseline: PIPELINE_SUBMISSIONS creates from PIPELINE_CONCURRENCY threads,
    each described until RUNNING, against a new endpoint of its own (on the
    console's, the periodic sync would import its schedulers). Its wall time, and
    the CPU per scheduler of each part."""
    name = f"baseline-endpoint-{round_}"
    client = lookout_client(start_endpoint(stack, name, free_port(), latency_ms))

    def plain(index: int) -> None:
        scheduler = f"plain-{index}"
        client.create_inference_scheduler(**request(scheduler, f"plain-token-{index}"))
        while (
            client.describe_inference_scheduler(InferenceSchedulerName=scheduler)["Status"]
            != "RUNNING"
        ):
            time.sleep(0.05)

    cpu_before = stack.cpu()
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(PIPELINE_CONCURRENCY) as pool:
        list(pool.map(plain, range(PIPELINE_SUBMISSIONS)))
    seconds = time.monotonic() - start
    cpu = cpu_ms_each(cpu_used(cpu_before, stack.cpu()), PIPELINE_SUBMISSIONS)
    stack.stop(name)
    return seconds, cpu


def run_console(
    stack: Stack, app: Any, endpoint_url: str, latency_ms: float = 0
) -> tuple[float, dict[str, float]]:
    """The console: PIPELINE_SUBMISSIONS submissions accepted first, as the web
    does (the web benchmark measures that part); the clock runs from the moment
    the workers take the first of them until all have RUNNING recorded. Each round
    starts from nothing: no submissions, an endpoint with no schedulers. Its wall
    time, and the CPU per submission of each part."""
    from scheduler_ui.schedulers.models import Submission
    from scheduler_ui.schedulers.submitting import dispatch

    stack.stop("endpoint")
    start_endpoint(stack, "endpoint", int(endpoint_url.rsplit(":", 1)[1]), latency_ms)
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as db:
        db.execute("TRUNCATE schedulers_submissionevent, schedulers_submission")
    for index in range(PIPELINE_SUBMISSIONS):
        dispatch(Submission.accept(request(f"console-{index}", f"console-token-{index}"), None))
    cpu_before = stack.cpu()
    # The sync's queue too: the workers read both in turn, as deployed.
    app.control.add_consumer("status")
    start = start_consuming(app, "celery")
    running = Submission.objects.filter(scheduler_status="RUNNING")
    while running.count() < PIPELINE_SUBMISSIONS:
        if time.monotonic() - start > 300:
            raise RuntimeError("the pipeline did not finish within 5 minutes")
        time.sleep(0.05)
    seconds = time.monotonic() - start
    cpu = cpu_ms_each(cpu_used(cpu_before, stack.cpu()), PIPELINE_SUBMISSIONS)
    # Idle again before the next round clears the tables.
    for queue in ("celery", "status"):
        app.control.cancel_consumer(queue, reply=True, limit=PIPELINE_WORKERS)
    deadline = time.monotonic() + 30
    while any((app.control.inspect(timeout=1).active() or {}).values()):
        if time.monotonic() > deadline:
            raise RuntimeError("the workers were still busy 30 s after the round")
        time.sleep(0.2)
    return seconds, cpu


def celery_floor(stack: Stack, app: Any) -> tuple[float, dict[str, float]]:
    """What Celery alone costs: the same workers running as many tasks that do
    nothing (Celery's own celery.accumulate), from a queue of their own. Its
    wall time, and the CPU per task of each part."""
    queue = "bench-floor"
    for index in range(PIPELINE_SUBMISSIONS):
        app.send_task("celery.accumulate", args=(index,), queue=queue)
    cpu_before = stack.cpu()
    start = start_consuming(app, queue)
    broker = redis.Redis.from_url(REDIS_URL)
    # Acknowledged late: done once the queue and the unacknowledged messages are empty.
    while broker.llen(queue) or broker.hlen("unacked"):
        time.sleep(0.02)
    seconds = time.monotonic() - start
    cpu = cpu_ms_each(cpu_used(cpu_before, stack.cpu()), PIPELINE_SUBMISSIONS)
    app.control.cancel_consumer(queue, reply=True, limit=PIPELINE_WORKERS)
    return seconds, cpu


def start_consuming(app: Any, queue: str) -> float:
    """Set the idle workers on a queue; the time its first message is taken.
    Not the time of asking: a worker adds a queue when its current wait for
    messages (kombu's BRPOP, up to a second) ends, which a worker that is
    consuming all along never waits for."""
    broker = redis.Redis.from_url(REDIS_URL)
    waiting = broker.llen(queue)
    app.control.add_consumer(queue)
    deadline = time.monotonic() + 30
    while broker.llen(queue) >= waiting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no worker took a message from {queue} within 30 s")
        time.sleep(0.001)
    return time.monotonic()


def request(name: str, token: str) -> dict[str, Any]:
    return {
        "ModelName": "pump-model",
        "InferenceSchedulerName": name,
        "DataUploadFrequency": "PT10M",
        "DataInputConfiguration": {},
        "DataOutputConfiguration": {"S3OutputConfiguration": {"Bucket": "bench-output"}},
        "RoleArn": "arn:aws:iam::123456789012:role/Bench",
        "ClientToken": token,
    }


def bench_history(stack: Stack) -> dict[str, Any]:
    """/history/ at HISTORY_EVENTS events: p95 per filter, and the CSV export of
    all of them with the web worker's peak memory."""
    progress(f"history: seeding {HISTORY_EVENTS:,} events")
    stack.manage("seed_history", "--events", str(HISTORY_EVENTS))
    # What autovacuum does soon after a bulk insert: fresh statistics for the
    # planner, and the trigram indexes' pending entries merged (until then every
    # search reads them all).
    with psycopg.connect(stack.env["DATABASE_URL"], autocommit=True) as db:
        db.execute("VACUUM ANALYZE")
    progress("history: pages and the CSV export")
    port = free_port()
    web_pid = gunicorn(stack, port, workers=1)
    [worker] = children(web_pid)
    browser = Browser(port)
    status, page = browser.request("GET", "/history/")
    cursor = _older_link(page.decode())
    views = {
        "newest": "/history/",
        "older page": cursor or "/history/",
        "by scheduler": "/history/?scheduler=seed-scheduler-7",
        "by kind": "/history/?kind=failed",
        "by user": f"/history/?user={USERNAME}",
        "by date range": "/history/?since=2026-01-01&until=2026-06-30",
        "search": "/history/?q=ThrottlingException",
    }
    latencies: dict[str, dict[str, float]] = {}
    for label, path in views.items():
        samples = []
        for _ in range(HISTORY_REQUESTS):
            began = time.perf_counter()
            status, _ = browser.request("GET", path)
            samples.append(time.perf_counter() - began)
            if status != 200:
                raise RuntimeError(f"{path} answered {status}")
        latencies[label] = {
            "p50_ms": percentile(samples, 0.5) * 1000,
            "p95_ms": percentile(samples, 0.95) * 1000,
        }
    before = peak_rss_mb(worker)
    began = time.perf_counter()
    status, body = browser.request("GET", "/history/export.csv")
    export_seconds = time.perf_counter() - began
    after = peak_rss_mb(worker)
    stack.stop("web-1")
    if status != 200:
        raise RuntimeError(f"the CSV export answered {status}")
    return {
        "events": HISTORY_EVENTS,
        "pages": latencies,
        "worst_p95_ms": max(v["p95_ms"] for v in latencies.values()),
        "csv_rows": body.count(b"\n") - 1,
        "csv_seconds": export_seconds,
        "web_worker_peak_rss_before_export_mb": before,
        "web_worker_peak_rss_after_export_mb": after,
    }


def _older_link(html: str) -> str | None:
    marker = 'href="/history/?'
    for chunk in html.split(marker)[1:]:
        query = chunk.split('"', 1)[0].replace("&amp;", "&")
        if "before=" in query or "cursor=" in query:
            return "/history/?" + query
    return None


# --- Running it all ------------------------------------------------------------------


def start_endpoint(stack: Stack, name: str, port: int, latency_ms: float = 0) -> str:
    stack.start(
        name,
        [PYTHON, "manage.py", "lookout_endpoint", "--port", str(port), "--demo-models",
         "--pending-seconds", "0", "--quota", "100000000", "--allow-many-schedulers-per-model",
         "--latency-ms", str(latency_ms)],
        listening(port),
    )  # fmt: skip
    return f"http://127.0.0.1:{port}"


@contextmanager
def team_stack() -> Iterator[tuple[Stack, str]]:
    """A fresh PostgreSQL database, an emptied Redis database, the local endpoint."""
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {DATABASE}")
    redis.Redis.from_url(REDIS_URL).flushdb()
    database_url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{DATABASE}"
    endpoint_port = free_port()
    endpoint_url = f"http://127.0.0.1:{endpoint_port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "bench-" + "x" * 60,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "60",
        "CELERY_BROKER_URL": REDIS_URL,
        "LOOKOUT_ENDPOINT_URL": endpoint_url,
        "LOOKOUT_CALLS_PER_SECOND": "0",
        "LOOKOUT_FOLLOW_INTERVAL_SECONDS": "0.5",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    stack = Stack(env)
    try:
        stack.manage("migrate", "--noinput")
        stack.manage("collectstatic", "--noinput")
        with psycopg.connect(database_url, autocommit=True) as db:
            db.execute("CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, at timestamptz)")
        start_endpoint(stack, "endpoint", endpoint_port)
        import django

        django.setup()
        from django.contrib.auth.models import Group, User

        from scheduler_ui.schedulers.access import OPERATOR

        # An Operator, as the people who submit are: a superuser's permission
        # checks cost no queries, an Operator's cost two a request.
        User.objects.create_user(USERNAME, "", PASSWORD).groups.add(
            Group.objects.get(name=OPERATOR)
        )
        yield stack, endpoint_url
    finally:
        stack.stop_all()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    with team_stack() as (stack, endpoint_url):
        results: dict[str, Any] = {
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "endpoint": bench_endpoint(stack, endpoint_url),
            # The pipeline first: the web benchmark leaves queued submissions behind.
            "pipeline": bench_pipeline(stack, endpoint_url),
            "web": bench_web(stack),
            "history": bench_history(stack),
        }
    results["total_seconds"] = time.monotonic() - began
    (OUT / "report.json").write_text(json.dumps(results, indent=2) + "\n")
    (OUT / "report.md").write_text(report(results))
    print(report(results))


def verdict(met: bool) -> str:
    return "met" if met else "**missed**"


def report(r: dict[str, Any]) -> str:
    web, pipe, hist, endpoint = r["web"], r["pipeline"], r["history"], r["endpoint"]
    slow = pipe["with_latency"]
    endpoint_busiest = max(
        round_[f"{side}_endpoint_share_of_a_core"]
        for round_ in pipe["rounds"]
        for side in ("baseline", "console")
    )
    form, base, alone = web["form"], web["baseline"], web["one_client"]
    rss_before = hist["web_worker_peak_rss_before_export_mb"]
    rss_after = hist["web_worker_peak_rss_after_export_mb"]
    machine = r["machine"]
    return "\n".join(
        [
            "# Benchmark report",
            "",
            f"{r['date']}, {machine['cpus']} CPUs, Python {machine['python']}, "
            f"{machine['platform']}; the whole run took {r['total_seconds']:.0f} s.",
            "",
            "| what | console | baseline | ratio | target |",
            "|---|---|---|---|---|",
            f"| form POST throughput, {WEB_CLIENTS} clients (req/s) "
            f"| {form['throughput_rps']:.0f} "
            f"| {base['throughput_rps']:.0f} (one INSERT + redirect) "
            f"| {web['throughput_ratio']:.2f} "
            f"| ≥ 0.50: {verdict(web['throughput_ratio'] >= 0.5)} |",
            f"| form POST p50 / p99 (ms) | {form['p50_ms']:.0f} / {form['p99_ms']:.0f} "
            f"| {base['p50_ms']:.0f} / {base['p99_ms']:.0f} "
            f"| {form['p99_ms'] / base['p99_ms']:.2f} (p99) "
            f"| p99 < 100 ms: {verdict(form['p99_ms'] < 100)} |",
            f"| form POST p50 / p99, one client alone (ms) "
            f"| {alone['form']['p50_ms']:.1f} / {alone['form']['p99_ms']:.1f} "
            f"| {alone['baseline']['p50_ms']:.1f} / {alone['baseline']['p99_ms']:.1f} "
            f"| {alone['form']['p99_ms'] / alone['baseline']['p99_ms']:.2f} (p99) | |",
            f"| pipeline: {pipe['submissions']} accepted → RUNNING recorded (s) "
            f"| {pipe['console_seconds']:.1f} | {pipe['baseline_seconds']:.1f} (plain boto3, "
            f"{pipe['concurrency']} threads) | {pipe['ratio']:.2f} "
            f"| ≤ 1.3: {verdict(pipe['ratio'] <= 1.3)} |",
            f"| the same workers running {pipe['submissions']} tasks that do nothing (s) "
            f"| {pipe['celery_floor_seconds']:.1f} | {pipe['baseline_seconds']:.1f} "
            f"| {pipe['celery_floor_seconds'] / pipe['baseline_seconds']:.2f} "
            "| Celery's own share |",
            f"| the pipeline with {slow['latency_ms']} ms per call, as a remote API's (s) "
            f"| {slow['console_seconds']:.1f} | {slow['baseline_seconds']:.1f} "
            f"| {slow['ratio']:.2f} | what-if, no target |",
            f"| /history/ p95 at {hist['events']:,} events, worst view (ms) "
            f"| {hist['worst_p95_ms']:.0f} | | | < 100 ms: {verdict(hist['worst_p95_ms'] < 100)} |",
            f"| CSV export of {hist['csv_rows']:,} events: web worker peak RSS (MB) "
            f"| {rss_after:.0f} | {rss_before:.0f} (before the export) "
            f"| {rss_after / rss_before:.2f} | < 150 MB: {verdict(rss_after < 150)} |",
            f"| local endpoint: calls/s from 8 boto3 threads; its own CPU per call "
            f"| {endpoint['calls_per_second']:.0f}; {endpoint['cpu_ms_per_call']:.2f} ms "
            f"({1000 / endpoint['cpu_ms_per_call']:.0f} calls/s on one core) | | "
            f"| not the bottleneck: {verdict(endpoint_busiest < 0.5)} (busiest in the "
            f"pipeline: {endpoint_busiest:.0%} of a core) |",
            "",
            f"Peak RSS: web worker {web['web_worker_peak_rss_mb']:.0f} MB, "
            f"Celery worker {pipe['worker_peak_rss_mb']:.0f} MB.",
            "",
            "History views (p50 / p95 ms): "
            + ", ".join(
                f"{k} {v['p50_ms']:.0f} / {v['p95_ms']:.0f}" for k, v in hist["pages"].items()
            ),
            "",
            f"Console/baseline ratio of each round: web ({WEB_SECONDS / WEB_ROUNDS:.0f} s of "
            "each, all rounds together reported above) "
            + ", ".join(f"{ratio:.2f}" for ratio in web["round_ratios"])
            + "; pipeline (the median round reported above) "
            + ", ".join(f"{round_['ratio']:.2f}" for round_ in pipe["rounds"])
            + ".",
            "",
            "CPU time per item, summed over the processes of each part (ms): "
            + "; ".join(
                f"{what} {sum(parts.values()):.1f} ("
                + ", ".join(f"{part} {ms:.2f}" for part, ms in parts.items())
                + ")"
                for what, parts in (
                    ("form POST", form["cpu_ms_per_request"]),
                    ("baseline POST", base["cpu_ms_per_request"]),
                    ("console submission", pipe["console_cpu_ms_per_submission"]),
                    ("plain-script scheduler", pipe["baseline_cpu_ms_per_scheduler"]),
                    ("Celery task that does nothing", pipe["celery_floor_cpu_ms_per_task"]),
                )
            )
            + ".",
            "",
            f"Web: gunicorn as deployed ({web['web_processes']} processes, gunicorn.conf.py), "
            f"{form['requests']} form POSTs ({form['errors']} not answered 302), "
            f"{base['requests']} baseline POSTs, {WEB_SECONDS:.0f} s each. "
            f"The CSV export took {hist['csv_seconds']:.1f} s.",
            "",
        ]
    )


if __name__ == "__main__":
    main()
