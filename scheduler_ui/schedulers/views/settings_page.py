"""/settings/: where the console sends its calls, as whom, and when beat's periodic
tasks last ran. Never a secret."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from scheduler_ui.lookout import error_code_and_message, make_client
from scheduler_ui.schedulers.access import can_read
from scheduler_ui.schedulers.models import PeriodicRun


@can_read
def settings_page(request: HttpRequest) -> HttpResponse:
    client = make_client()
    local = settings.LOOKOUT_ENDPOINT_URL is not None
    return render(
        request,
        "schedulers/settings.html",
        {
            "endpoint_url": client.meta.endpoint_url,
            "region": client.meta.region_name,
            # A local endpoint has no STS to ask.
            "identity": None if local else caller_identity(),
            "periodic": PeriodicRun.schedule(timezone.now()),
        },
    )


def caller_identity() -> dict[str, str]:
    """Who the standard AWS credential chain makes this process: the account and
    ARN, or the error code (only the code: a message could quote more)."""
    sts = boto3.session.Session().client(
        "sts",
        region_name=settings.AWS_REGION,
        config=Config(
            connect_timeout=settings.LOOKOUT_CONNECT_TIMEOUT,
            read_timeout=settings.LOOKOUT_READ_TIMEOUT,
            retries={"mode": "standard", "total_max_attempts": 1},
        ),
    )
    try:
        found = sts.get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        code, _ = error_code_and_message(error) or (type(error).__name__, "")
        return {"error": code}
    return {"account": str(found["Account"]), "arn": str(found["Arn"])}
