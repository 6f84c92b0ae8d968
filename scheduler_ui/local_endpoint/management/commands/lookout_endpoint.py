"""python manage.py lookout_endpoint --port 4567 [--demo-models] [fault injection ...]"""

from __future__ import annotations

import argparse
import contextlib
import logging
import signal
from pathlib import Path
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scheduler_ui.local_endpoint.backend import DEMO_MODELS, EndpointConfig
from scheduler_ui.local_endpoint.server import LocalEndpoint


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {text}")
    return value


def _latency(text: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be MIN or MIN,MAX milliseconds, not {text}"
        ) from None
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"must satisfy 0 <= MIN <= MAX, not {text}")
    return bounds


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve the local Amazon Lookout for Equipment endpoint (AWS JSON 1.0 over HTTP)."
    # It needs no database, URLs or templates: don't let their checks stop it.
    requires_system_checks = ()

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=4567, help="0 picks a free port")
        parser.add_argument(
            "--demo-models",
            action="store_true",
            help=f"seed the trained models {', '.join(DEMO_MODELS)}",
        )
        parser.add_argument("--pending-seconds", type=float, default=2.0, metavar="N")
        parser.add_argument("--stopping-seconds", type=float, default=2.0, metavar="N")
        parser.add_argument("--throttle-rate", type=_rate, default=0.0, metavar="F")
        parser.add_argument("--internal-error-rate", type=_rate, default=0.0, metavar="F")
        parser.add_argument(
            "--internal-error-after-apply-rate",
            type=_rate,
            default=0.0,
            metavar="F",
            help="fraction of calls applied, then answered InternalServerException",
        )
        parser.add_argument("--latency-ms", type=_latency, default=(0.0, 0.0), metavar="MIN[,MAX]")
        parser.add_argument(
            "--latency-after-apply-ms",
            type=float,
            default=0.0,
            metavar="N",
            help="wait this long between applying a call and answering it",
        )
        parser.add_argument(
            "--state-file", type=Path, help="keep the state in this JSON file across restarts"
        )
        parser.add_argument("--quota", type=int, default=1000, help="inference scheduler quota")
        parser.add_argument(
            "--allow-role-arn",
            nargs="+",
            action="extend",
            metavar="ARN",
            help="only these role ARNs may be passed (default: any)",
        )
        parser.add_argument("--allow-many-schedulers-per-model", action="store_true")
        parser.add_argument("--seed", type=int, help="random seed of the fault injection")
        parser.add_argument("--region", default="us-east-1")
        parser.add_argument("--account-id", default="123456789012")
        parser.add_argument("--verbose", action="store_true", help="log every request")

    def handle(self, *args: Any, **options: Any) -> None:
        roles = options["allow_role_arn"]
        try:
            config = EndpointConfig(
                demo_models=DEMO_MODELS if options["demo_models"] else (),
                pending_seconds=options["pending_seconds"],
                stopping_seconds=options["stopping_seconds"],
                one_scheduler_per_model=not options["allow_many_schedulers_per_model"],
                scheduler_quota=options["quota"],
                allowed_role_arns=frozenset(roles) if roles else None,
                throttle_rate=options["throttle_rate"],
                internal_error_rate=options["internal_error_rate"],
                internal_error_after_apply_rate=options["internal_error_after_apply_rate"],
                latency_ms=options["latency_ms"],
                latency_after_apply_ms=options["latency_after_apply_ms"],
                seed=options["seed"],
                region=options["region"],
                account_id=options["account_id"],
                state_file=options["state_file"],
            )
            endpoint = LocalEndpoint(
                config, host=options["host"], port=options["port"], verbose=options["verbose"]
            )
        except (ValueError, OSError) as error:
            raise CommandError(str(error)) from error
        if options["verbose"]:
            logging.getLogger("scheduler_ui.local_endpoint").setLevel(logging.INFO)
        # Both, explicitly: a shell starting us in the background ignores SIGINT,
        # and `make run` stops everything with Ctrl-C.
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        self.stdout.write(f"Local Lookout for Equipment endpoint serving on {endpoint.url}")
        if config.demo_models:
            self.stdout.write(f"  demo models: {', '.join(config.demo_models)}")
        self.stdout.flush()  # whoever started us may be waiting for that line
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C or SIGTERM
            endpoint.serve_forever()
        self.stdout.write("Local Lookout for Equipment endpoint stopped.")
