"""What the account already holds, for the create form: the models ready to
serve and the schedulers already there, asked of Lookout for Equipment and
cached briefly.

These only help a person fill in the form. A lookup that fails leaves the form
as it is (no suggestions, no warnings), and AWS still judges the request when
it is sent: a name taken now may be free by then, and the other way round.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.cache import cache

from scheduler_ui.lookout import list_all, make_client

log = logging.getLogger(__name__)

# Long enough that typing in the form asks AWS about once, short enough that a
# scheduler made or deleted a moment ago soon shows.
CACHE_SECONDS = 30
_MISSING = object()


class Scheduler(NamedTuple):
    model: str
    status: str


def ready_models() -> list[str]:
    """The names of the models that finished training, sorted; empty when the
    endpoint cannot be asked."""

    def ask() -> list[str]:
        models = list_all(make_client(), "ListModels", "ModelSummaries", Status="SUCCESS")
        return sorted(model["ModelName"] for model in models)

    return _cached("ListModels", ask) or []


def existing_schedulers() -> dict[str, Scheduler]:
    """Every scheduler on the endpoint, name → model and status; empty when the
    endpoint cannot be asked."""

    def ask() -> dict[str, Scheduler]:
        summaries = list_all(
            make_client(), "ListInferenceSchedulers", "InferenceSchedulerSummaries"
        )
        return {
            s["InferenceSchedulerName"]: Scheduler(s["ModelName"], s.get("Status", ""))
            for s in summaries
        }

    return _cached("ListInferenceSchedulers", ask) or {}


def warnings(
    scheduler_name: str, model_name: str, schedulers: dict[str, Scheduler] | None = None
) -> list[str]:
    """What a create request for this name and model would run into, as things
    stand now (`schedulers`: existing_schedulers(), when the caller has it already)."""
    if schedulers is None:
        schedulers = existing_schedulers() if scheduler_name or model_name else {}
    found = []
    taken = schedulers.get(scheduler_name)
    if taken is not None:
        found.append(f"A scheduler named {scheduler_name} already exists (status {taken.status}).")
    found += [
        f"Model {model_name} already serves scheduler {name}."
        for name, scheduler in schedulers.items()
        if model_name and scheduler.model == model_name and name != scheduler_name
    ]
    return found


def _cached(operation: str, ask: Callable[[], Any]) -> Any:
    """What `ask` answers, from the cache when it answered lately; None when the
    endpoint could not answer (remembered too, so that an endpoint that is down
    is not asked again on every keystroke)."""
    where = f"{settings.LOOKOUT_ENDPOINT_URL}|{settings.AWS_REGION}"
    key = f"lookout-account:{operation}:{hashlib.sha256(where.encode()).hexdigest()[:16]}"
    found = cache.get(key, _MISSING)
    if found is not _MISSING:
        return found
    try:
        found = ask()
    except (BotoCoreError, ClientError) as error:
        log.info("%s failed, the form goes without it: %s", operation, error)
        found = None
    cache.set(key, found, CACHE_SECONDS)
    return found
