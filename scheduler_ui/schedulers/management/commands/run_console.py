"""Start the whole console on one machine (used by `make run`): the local
Lookout for Equipment endpoint, the web server, a Celery worker and Celery
beat. Ctrl-C stops them all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Run the local endpoint, web, worker and beat together until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="web port")
        parser.add_argument("--endpoint-port", type=int, default=4567)

    def handle(self, *args: Any, **options: Any) -> None:
        python = sys.executable
        env = dict(os.environ)
        processes: dict[str, list[str]] = {}
        if not settings.LOOKOUT_ENDPOINT_URL:
            port = options["endpoint_port"]
            env["LOOKOUT_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
            # The local endpoint accepts any credentials, but boto3 signs every call.
            env.setdefault("AWS_ACCESS_KEY_ID", "local")
            env.setdefault("AWS_SECRET_ACCESS_KEY", "local")
            processes["endpoint"] = [
                python, "manage.py", "lookout_endpoint", "--port", str(port), "--demo-models",
                "--state-file", str(settings.VAR_DIR / "local-endpoint.json"),
            ]  # fmt: skip
        processes["web"] = [python, "manage.py", "runserver", f"127.0.0.1:{options['port']}",
                            "--noreload"]  # fmt: skip
        processes["worker"] = [python, "-m", "celery", "-A", "scheduler_ui", "worker",
                               "--loglevel", "WARNING", "--concurrency", "2"]  # fmt: skip
        processes["beat"] = [python, "-m", "celery", "-A", "scheduler_ui", "beat",
                             "--loglevel", "WARNING"]  # fmt: skip

        running = {
            name: subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)
            for name, command in processes.items()
        }
        self.stdout.write(
            f"Lookout Scheduler Console: http://127.0.0.1:{options['port']}/ "
            f"(endpoint {env.get('LOOKOUT_ENDPOINT_URL') or 'AWS'}). Ctrl-C stops everything."
        )
        signal.signal(signal.SIGTERM, _stop)
        exit_code = 0
        try:
            while True:
                for name, process in running.items():
                    if process.poll() is not None:
                        self.stderr.write(f"{name} stopped (exit code {process.returncode})")
                        exit_code = 1
                        raise KeyboardInterrupt
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in running.values():
                if process.poll() is None:
                    process.terminate()
            for process in running.values():
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
        sys.exit(exit_code)


def _stop(*_: object) -> None:
    """SIGTERM stops the console the way Ctrl-C does."""
    raise KeyboardInterrupt
