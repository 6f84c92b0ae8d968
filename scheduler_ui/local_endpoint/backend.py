"""The local Lookout for Equipment service itself: configuration, state and one
method per operation. No HTTP and no Django: `server.py` puts it on the wire.

Every call goes through `Backend.invoke`, which injects the configured faults,
validates the request with the project's shared validator and dispatches it.
Errors are `ServiceError(code, message)`, code being the AWS exception name.

Time is read from an injectable clock, and status changes (PENDING -> RUNNING,
STOPPING -> STOPPED) and inference executions are computed from timestamps
when they are read, so no background thread is needed and tests control time
by advancing a `ManualClock`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import math
import os
import random
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, TypeVar

from scheduler_ui.lookout.validation import validate_request

Params = dict[str, Any]
Response = dict[str, Any]
Clock = Callable[[], float]
T = TypeVar("T")

DEMO_MODELS = ("pump-model", "compressor-model", "turbine-model", "fan-model", "conveyor-model")

FREQUENCY_SECONDS = {"PT5M": 300, "PT10M": 600, "PT15M": 900, "PT30M": 1800, "PT1H": 3600}
DEFAULT_PAGE_SIZE = 50
MAX_TAGS_PER_RESOURCE = 200
STATE_VERSION = 1


class ServiceError(Exception):
    """An error answer of the service: `code` is the AWS exception name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass
class EndpointConfig:
    """How the local endpoint behaves. Read on every call, so a test may change
    a field (say `throttle_rate`) on a running endpoint."""

    demo_models: tuple[str, ...] = ()
    pending_seconds: float = 2.0
    stopping_seconds: float = 2.0
    one_scheduler_per_model: bool = True
    scheduler_quota: int = 1000
    # None: any role may be passed; otherwise only these.
    allowed_role_arns: frozenset[str] | None = None
    # Fractions (0..1) of calls answered with an error before anything is done.
    throttle_rate: float = 0.0
    internal_error_rate: float = 0.0
    # Fraction of calls that are applied and then answered InternalServerException.
    internal_error_after_apply_rate: float = 0.0
    # Added latency per call, drawn uniformly between min and max milliseconds.
    latency_ms: tuple[float, float] = (0.0, 0.0)
    # Milliseconds between applying a call and answering it: a caller that dies
    # meanwhile has changed the service without hearing so.
    latency_after_apply_ms: float = 0.0
    seed: int | None = None
    region: str = "us-east-1"
    account_id: str = "123456789012"
    state_file: Path | None = None

    def __post_init__(self) -> None:
        self.demo_models = tuple(self.demo_models)
        if self.allowed_role_arns is not None:
            self.allowed_role_arns = frozenset(self.allowed_role_arns)
        if self.state_file is not None:
            self.state_file = Path(self.state_file)
        rates = {
            "throttle_rate": self.throttle_rate,
            "internal_error_rate": self.internal_error_rate,
            "internal_error_after_apply_rate": self.internal_error_after_apply_rate,
        }
        for name, rate in rates.items():
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        low, high = self.latency_ms
        if not 0 <= low <= high:
            raise ValueError(f"latency_ms must be (min, max) with 0 <= min <= max, not {low, high}")
        if self.latency_after_apply_ms < 0:
            raise ValueError("latency_after_apply_ms must not be negative")
        if self.pending_seconds < 0 or self.stopping_seconds < 0:
            raise ValueError("pending_seconds and stopping_seconds must not be negative")
        if self.scheduler_quota < 0:
            raise ValueError("scheduler_quota must not be negative")
        if len(self.account_id) != 12 or not self.account_id.isdigit():
            raise ValueError(f"account_id must be 12 digits, not {self.account_id!r}")


class ManualClock:
    """A clock that only moves when told to: `clock.advance(seconds)`."""

    def __init__(self, start: float = 1_700_002_800.0) -> None:
        # The default start is a whole hour, so upload intervals line up with it.
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


Outcome = Literal["created", "replayed", "failed"]


@dataclass(frozen=True)
class CreateCall:
    """One CreateInferenceScheduler call as the endpoint received it.

    `outcome` says what it did; `error_code` is the error it was answered with,
    if any ("created" with an error code is an injected after-apply failure).
    """

    at: float
    name: str | None
    client_token: str | None
    outcome: Outcome
    error_code: str | None = None


@dataclass
class _Model:
    name: str
    arn: str
    dataset_name: str
    dataset_arn: str
    status: str
    quality: str
    created_at: float
    role_arn: str | None = None
    kms_key_arn: str | None = None
    # TrainingDataStartTime and the like, as given to CreateModel.
    times: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class _Run:
    """One period a scheduler ran (or runs), with the configuration it ran with:
    executions are derived from it."""

    start: float
    end: float | None
    frequency: str
    delay_offset: int
    input_config: dict[str, Any]
    output_config: dict[str, Any]


@dataclass
class _Scheduler:
    name: str
    arn: str
    model_name: str
    model_arn: str
    frequency: str
    delay_offset: int
    input_config: dict[str, Any]
    output_config: dict[str, Any]
    role_arn: str
    kms_key_arn: str | None
    created_at: float
    updated_at: float
    # Where the scheduler is heading (RUNNING or STOPPED) and when it gets there;
    # until then it is PENDING or STOPPING.
    heading: str
    settles_at: float
    runs: list[_Run] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    def status(self, now: float) -> str:
        if now < self.settles_at:
            return "PENDING" if self.heading == "RUNNING" else "STOPPING"
        return self.heading

    def last_updated(self, now: float) -> float:
        return max(self.updated_at, self.settles_at) if now >= self.settles_at else self.updated_at

    def scheduled_times(self, now: float) -> Iterator[tuple[_Run, float]]:
        """(run, data end time) of every execution so far, newest first.

        An execution covers one upload interval, aligned to the clock; it starts
        DataDelayOffsetInMinutes after the interval ends, and only while running.
        """
        for run in reversed(self.runs):
            until = now if run.end is None else min(run.end, now)
            step = FREQUENCY_SECONDS[run.frequency]
            offset = run.delay_offset * 60
            boundary = math.floor((until - offset) / step) * step
            while boundary > run.start:
                yield run, boundary
                boundary -= step

    def latest_result(self, now: float) -> str | None:
        latest = next(self.scheduled_times(now), None)
        return None if latest is None else _inference_result(self.name, latest[1])


def _inference_result(scheduler: str, data_end: float) -> str:
    # Deterministic, and now and then anomalous, so demos show both.
    return "ANOMALOUS" if zlib.crc32(f"{scheduler}:{data_end:.0f}".encode()) % 5 == 0 else "NORMAL"


class Backend:
    """The service's state and operations, guarded by one lock."""

    def __init__(
        self,
        config: EndpointConfig | None = None,
        *,
        clock: Clock = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config or EndpointConfig()
        self.clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._faults = random.Random(self.config.seed)
        self._models: dict[str, _Model] = {}
        self._schedulers: dict[str, _Scheduler] = {}
        # operation -> ClientToken -> {"request": ..., "response": ...}
        self._tokens: dict[str, dict[str, dict[str, Any]]] = {
            "CreateInferenceScheduler": {},
            "CreateModel": {},
        }
        self._create_calls: list[CreateCall] = []
        self._operations: dict[str, Callable[[Params], Response]] = {
            "DescribeInferenceScheduler": self._describe_inference_scheduler,
            "ListInferenceSchedulers": self._list_inference_schedulers,
            "StartInferenceScheduler": self._start_inference_scheduler,
            "StopInferenceScheduler": self._stop_inference_scheduler,
            "UpdateInferenceScheduler": self._update_inference_scheduler,
            "DeleteInferenceScheduler": self._delete_inference_scheduler,
            "ListInferenceExecutions": self._list_inference_executions,
            "CreateModel": self._create_model,
            "DescribeModel": self._describe_model,
            "ListModels": self._list_models,
            "TagResource": self._tag_resource,
            "UntagResource": self._untag_resource,
            "ListTagsForResource": self._list_tags_for_resource,
        }
        with self._lock:
            self._load()
            for name in self.config.demo_models:
                if name not in self._models:
                    self._add_model(name, f"{name}-dataset", "QUALITY_THRESHOLD_MET")
            self._save()

    # --- The entry point ---------------------------------------------------

    @property
    def operations(self) -> frozenset[str]:
        """The operations this endpoint answers."""
        return frozenset(self._operations) | {"CreateInferenceScheduler"}

    def invoke(self, operation: str, params: Params) -> Response:
        """Answer one call, as the service would: faults, validation, the operation."""
        if operation not in self.operations:
            raise ServiceError(
                "UnknownOperationException",
                f"Operation {operation} is not implemented by the local endpoint.",
            )
        creating = operation == "CreateInferenceScheduler"
        try:
            self._add_latency()
            self._inject_fault()
            errors = validate_request(operation, params)
            if errors:
                count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''}"
                raise ServiceError(
                    "ValidationException",
                    f"{count} detected: {'; '.join(str(error) for error in errors)}",
                )
            with self._lock:
                if creating:
                    response, outcome = self._create_inference_scheduler(params)
                else:
                    response = self._operations[operation](params)
                # Copied under the lock: the state may change once it is released.
                response = copy.deepcopy(response)
                fail_after_apply = self._draw(self.config.internal_error_after_apply_rate)
                if creating:
                    error_code = "InternalServerException" if fail_after_apply else None
                    self._record(params, outcome, error_code)
        except ServiceError as error:
            if creating:
                with self._lock:
                    self._record(params, "failed", error.code)
            raise
        if self.config.latency_after_apply_ms > 0:
            self._sleep(self.config.latency_after_apply_ms / 1000)
        if fail_after_apply:
            raise ServiceError(
                "InternalServerException",
                "Internal server error (injected by the local endpoint after applying "
                "the request).",
            )
        return response

    # --- For tests and the product's checks ----------------------------------

    def create_calls(self, name: str | None = None) -> list[CreateCall]:
        """Every CreateInferenceScheduler call received (for one scheduler name), oldest first."""
        with self._lock:
            return [call for call in self._create_calls if name is None or call.name == name]

    def add_model(self, name: str, *, quality: str = "QUALITY_THRESHOLD_MET") -> str:
        """Add a trained model (as the demo models are); returns its ARN."""
        with self._lock:
            if name in self._models:
                raise ServiceError("ConflictException", f"Model {name} already exists.")
            model = self._add_model(name, f"{name}-dataset", quality)
            self._save()
            return model.arn

    # --- Faults -----------------------------------------------------------

    def _draw(self, rate: float) -> bool:
        # Only draw when the rate is set, so a seed replays the same faults
        # whatever else is configured. Caller holds the lock.
        return rate > 0 and self._faults.random() < rate

    def _add_latency(self) -> None:
        low, high = self.config.latency_ms
        if high <= 0:
            return
        with self._lock:
            delay = self._faults.uniform(low, high)
        self._sleep(delay / 1000)  # outside the lock: slow calls must not serialize

    def _inject_fault(self) -> None:
        with self._lock:
            throttle = self._draw(self.config.throttle_rate)
            internal = not throttle and self._draw(self.config.internal_error_rate)
        if throttle:
            raise ServiceError(
                "ThrottlingException", "Rate exceeded (injected by the local endpoint)."
            )
        if internal:
            raise ServiceError(
                "InternalServerException",
                "Internal server error (injected by the local endpoint).",
            )

    def _record(self, params: Params, outcome: Outcome, error_code: str | None) -> None:
        name, token = params.get("InferenceSchedulerName"), params.get("ClientToken")
        self._create_calls.append(
            CreateCall(
                at=self.clock(),
                name=name if isinstance(name, str) else None,
                client_token=token if isinstance(token, str) else None,
                outcome=outcome,
                error_code=error_code,
            )
        )

    # --- Helpers (the caller holds the lock) -----------------------------------

    def _arn(self, kind: str, name: str) -> str:
        region, account = self.config.region, self.config.account_id
        return f"arn:aws:lookoutequipment:{region}:{account}:{kind}/{name}/{uuid.uuid4()}"

    def _kms_arn(self, key: str | None) -> str | None:
        if key is None or key.startswith("arn:"):
            return key
        resource = key if key.startswith("alias/") else f"key/{key}"
        return f"arn:aws:kms:{self.config.region}:{self.config.account_id}:{resource}"

    def _check_role(self, role_arn: str | None) -> None:
        allowed = self.config.allowed_role_arns
        if role_arn is not None and allowed is not None and role_arn not in allowed:
            raise ServiceError(
                "AccessDeniedException",
                f"The caller is not allowed to pass the role {role_arn}.",
            )

    def _replay(self, operation: str, params: Params) -> Response | None:
        """The first response to this ClientToken, if it was seen with the same request."""
        seen = self._tokens[operation].get(params["ClientToken"])
        if seen is None:
            return None
        if seen["request"] != params:
            raise ServiceError(
                "ConflictException",
                f"The ClientToken {params['ClientToken']} was already used "
                "with different parameters.",
            )
        response: Response = seen["response"]
        return response

    def _remember(self, operation: str, params: Params, response: Response) -> None:
        self._tokens[operation][params["ClientToken"]] = {
            "request": copy.deepcopy(params),
            "response": copy.deepcopy(response),
        }

    def _scheduler(self, name: str) -> _Scheduler:
        scheduler = self._schedulers.get(name)
        if scheduler is None:
            raise ServiceError(
                "ResourceNotFoundException", f"Inference scheduler {name} does not exist."
            )
        return scheduler

    def _model(self, name: str) -> _Model:
        model = self._models.get(name)
        if model is None:
            raise ServiceError("ResourceNotFoundException", f"Model {name} does not exist.")
        return model

    def _add_model(self, name: str, dataset: str, quality: str) -> _Model:
        region, account = self.config.region, self.config.account_id
        model = _Model(
            name=name,
            arn=self._arn("model", name),
            dataset_name=dataset,
            dataset_arn=f"arn:aws:lookoutequipment:{region}:{account}:dataset/{dataset}/"
            f"{uuid.uuid5(uuid.NAMESPACE_URL, dataset)}",
            status="SUCCESS",
            quality=quality,
            created_at=self.clock(),
        )
        self._models[name] = model
        return model

    def _tags_of(self, arn: str) -> dict[str, str]:
        for scheduler in self._schedulers.values():
            if scheduler.arn == arn:
                return scheduler.tags
        for model in self._models.values():
            if model.arn == arn:
                return model.tags
        raise ServiceError("ResourceNotFoundException", f"Resource {arn} does not exist.")

    @staticmethod
    def _state_response(scheduler: _Scheduler, status: str) -> Response:
        return {
            "ModelArn": scheduler.model_arn,
            "ModelName": scheduler.model_name,
            "InferenceSchedulerName": scheduler.name,
            "InferenceSchedulerArn": scheduler.arn,
            "Status": status,
        }

    # --- Inference schedulers ----------------------------------------------

    def _create_inference_scheduler(self, params: Params) -> tuple[Response, Outcome]:
        replay = self._replay("CreateInferenceScheduler", params)
        if replay is not None:
            return replay, "replayed"
        name, role_arn = params["InferenceSchedulerName"], params["RoleArn"]
        self._check_role(role_arn)
        model = self._model(params["ModelName"])
        if name in self._schedulers:
            raise ServiceError(
                "ConflictException", f"An inference scheduler named {name} already exists."
            )
        if self.config.one_scheduler_per_model:
            for other in self._schedulers.values():
                if other.model_name == model.name:
                    raise ServiceError(
                        "ConflictException",
                        f"Model {model.name} already has an inference scheduler ({other.name}).",
                    )
        if len(self._schedulers) >= self.config.scheduler_quota:
            raise ServiceError(
                "ServiceQuotaExceededException",
                f"The quota of {self.config.scheduler_quota} inference schedulers is reached.",
            )
        now = self.clock()
        scheduler = _Scheduler(
            name=name,
            arn=self._arn("inference-scheduler", name),
            model_name=model.name,
            model_arn=model.arn,
            frequency=params["DataUploadFrequency"],
            delay_offset=params.get("DataDelayOffsetInMinutes", 0),
            input_config=params["DataInputConfiguration"],
            output_config=params["DataOutputConfiguration"],
            role_arn=role_arn,
            kms_key_arn=self._kms_arn(params.get("ServerSideKmsKeyId")),
            created_at=now,
            updated_at=now,
            heading="RUNNING",
            settles_at=now + self.config.pending_seconds,
            tags={tag["Key"]: tag["Value"] for tag in params.get("Tags", [])},
        )
        self._start_run(scheduler)
        self._schedulers[name] = scheduler
        response = {
            "InferenceSchedulerArn": scheduler.arn,
            "InferenceSchedulerName": name,
            "Status": "PENDING",
            "ModelQuality": model.quality,
        }
        self._remember("CreateInferenceScheduler", params, response)
        self._save()
        return response, "created"

    @staticmethod
    def _start_run(scheduler: _Scheduler) -> None:
        scheduler.runs.append(
            _Run(
                start=scheduler.settles_at,
                end=None,
                frequency=scheduler.frequency,
                delay_offset=scheduler.delay_offset,
                input_config=scheduler.input_config,
                output_config=scheduler.output_config,
            )
        )

    def _describe_inference_scheduler(self, params: Params) -> Response:
        scheduler = self._scheduler(params["InferenceSchedulerName"])
        now = self.clock()
        response = {
            **self._state_response(scheduler, scheduler.status(now)),
            "DataDelayOffsetInMinutes": scheduler.delay_offset,
            "DataUploadFrequency": scheduler.frequency,
            "CreatedAt": scheduler.created_at,
            "UpdatedAt": scheduler.last_updated(now),
            "DataInputConfiguration": scheduler.input_config,
            "DataOutputConfiguration": scheduler.output_config,
            "RoleArn": scheduler.role_arn,
        }
        if scheduler.kms_key_arn is not None:
            response["ServerSideKmsKeyId"] = scheduler.kms_key_arn
        latest = scheduler.latest_result(now)
        if latest is not None:
            response["LatestInferenceResult"] = latest
        return response

    def _list_inference_schedulers(self, params: Params) -> Response:
        now = self.clock()
        prefix = params.get("InferenceSchedulerNameBeginsWith", "")
        model, status = params.get("ModelName"), params.get("Status")
        matching = [
            scheduler
            for _, scheduler in sorted(self._schedulers.items())
            if scheduler.name.startswith(prefix)
            and model in (None, scheduler.model_name)
            and status in (None, scheduler.status(now))
        ]
        page, next_token = _page(matching, params, key=lambda scheduler: scheduler.name)
        summaries = []
        for scheduler in page:
            summary = {
                **self._state_response(scheduler, scheduler.status(now)),
                "DataDelayOffsetInMinutes": scheduler.delay_offset,
                "DataUploadFrequency": scheduler.frequency,
            }
            latest = scheduler.latest_result(now)
            if latest is not None:
                summary["LatestInferenceResult"] = latest
            summaries.append(summary)
        return _with_token({"InferenceSchedulerSummaries": summaries}, next_token)

    def _start_inference_scheduler(self, params: Params) -> Response:
        scheduler = self._scheduler(params["InferenceSchedulerName"])
        now = self.clock()
        status = scheduler.status(now)
        if status != "STOPPED":
            raise ServiceError(
                "ConflictException",
                f"Inference scheduler {scheduler.name} is {status}; "
                "only a STOPPED scheduler can be started.",
            )
        scheduler.heading, scheduler.settles_at = "RUNNING", now + self.config.pending_seconds
        scheduler.updated_at = now
        self._start_run(scheduler)
        self._save()
        return self._state_response(scheduler, "PENDING")

    def _stop_inference_scheduler(self, params: Params) -> Response:
        scheduler = self._scheduler(params["InferenceSchedulerName"])
        now = self.clock()
        status = scheduler.status(now)
        if status not in ("RUNNING", "PENDING"):
            raise ServiceError(
                "ConflictException",
                f"Inference scheduler {scheduler.name} is {status}; "
                "only a RUNNING or PENDING scheduler can be stopped.",
            )
        scheduler.runs[-1].end = now
        scheduler.heading, scheduler.settles_at = "STOPPED", now + self.config.stopping_seconds
        scheduler.updated_at = now
        self._save()
        return self._state_response(scheduler, "STOPPING")

    def _require_stopped(self, scheduler: _Scheduler, action: str) -> None:
        status = scheduler.status(self.clock())
        if status != "STOPPED":
            raise ServiceError(
                "ConflictException",
                f"Inference scheduler {scheduler.name} is {status}; "
                f"it must be STOPPED to be {action}.",
            )

    def _update_inference_scheduler(self, params: Params) -> Response:
        scheduler = self._scheduler(params["InferenceSchedulerName"])
        self._require_stopped(scheduler, "updated")
        self._check_role(params.get("RoleArn"))
        # Whole members are replaced, as the service does.
        scheduler.delay_offset = params.get("DataDelayOffsetInMinutes", scheduler.delay_offset)
        scheduler.frequency = params.get("DataUploadFrequency", scheduler.frequency)
        scheduler.input_config = params.get("DataInputConfiguration", scheduler.input_config)
        scheduler.output_config = params.get("DataOutputConfiguration", scheduler.output_config)
        scheduler.role_arn = params.get("RoleArn", scheduler.role_arn)
        scheduler.updated_at = self.clock()
        self._save()
        return {}

    def _delete_inference_scheduler(self, params: Params) -> Response:
        scheduler = self._scheduler(params["InferenceSchedulerName"])
        self._require_stopped(scheduler, "deleted")
        del self._schedulers[scheduler.name]
        self._save()
        return {}

    def _list_inference_executions(self, params: Params) -> Response:
        scheduler = self._scheduler(params["InferenceSchedulerName"])
        after = params.get("DataStartTimeAfter")
        before = params.get("DataEndTimeBefore")
        status = params.get("Status")
        after_token = _decode_token(params["NextToken"]) if "NextToken" in params else None
        if after_token is not None and not isinstance(after_token, int | float):
            raise ServiceError("ValidationException", "NextToken: Invalid pagination token.")
        limit = params.get("MaxResults", DEFAULT_PAGE_SIZE)
        summaries: list[Response] = []
        more = False
        if status in (None, "SUCCESS"):
            for run, data_end in scheduler.scheduled_times(self.clock()):
                step = FREQUENCY_SECONDS[run.frequency]
                if after_token is not None and data_end >= after_token:
                    continue
                if before is not None and data_end > before:
                    continue
                if after is not None and data_end - step < after:
                    break  # newest first: every later one starts earlier still
                if len(summaries) == limit:
                    more = True
                    break
                summaries.append(self._execution(scheduler, run, data_end))
        next_token = _encode_token(summaries[-1]["DataEndTime"]) if more else None
        return _with_token({"InferenceExecutionSummaries": summaries}, next_token)

    @staticmethod
    def _execution(scheduler: _Scheduler, run: _Run, data_end: float) -> Response:
        output = run.output_config["S3OutputConfiguration"]
        stamp = datetime.fromtimestamp(data_end, UTC).strftime("%Y-%m-%d-%H-%M-%S")
        return {
            "ModelName": scheduler.model_name,
            "ModelArn": scheduler.model_arn,
            "InferenceSchedulerName": scheduler.name,
            "InferenceSchedulerArn": scheduler.arn,
            "ScheduledStartTime": data_end + run.delay_offset * 60,
            "DataStartTime": data_end - FREQUENCY_SECONDS[run.frequency],
            "DataEndTime": data_end,
            "DataInputConfiguration": run.input_config,
            "DataOutputConfiguration": run.output_config,
            "CustomerResultObject": {
                "Bucket": output["Bucket"],
                "Key": f"{output.get('Prefix', '')}{stamp}/results.jsonl",
            },
            "Status": "SUCCESS",
        }

    # --- Models ----------------------------------------------------------------

    def _create_model(self, params: Params) -> Response:
        replay = self._replay("CreateModel", params)
        if replay is not None:
            return replay
        name = params["ModelName"]
        self._check_role(params.get("RoleArn"))
        if name in self._models:
            raise ServiceError("ConflictException", f"Model {name} already exists.")
        # The service requires an existing dataset; here any DatasetName will do.
        model = self._add_model(name, params["DatasetName"], "QUALITY_THRESHOLD_MET")
        model.role_arn = params.get("RoleArn")
        model.kms_key_arn = self._kms_arn(params.get("ServerSideKmsKeyId"))
        model.times = {key: value for key, value in params.items() if key.endswith("Time")}
        model.tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags", [])}
        response = {"ModelArn": model.arn, "Status": model.status}
        self._remember("CreateModel", params, response)
        self._save()
        return response

    def _describe_model(self, params: Params) -> Response:
        model = self._model(params["ModelName"])
        response: Response = {
            "ModelName": model.name,
            "ModelArn": model.arn,
            "DatasetName": model.dataset_name,
            "DatasetArn": model.dataset_arn,
            "Status": model.status,
            "ModelQuality": model.quality,
            "CreatedAt": model.created_at,
            "LastUpdatedTime": model.created_at,
            "TrainingExecutionStartTime": model.created_at,
            "TrainingExecutionEndTime": model.created_at,
            **model.times,
        }
        if model.role_arn is not None:
            response["RoleArn"] = model.role_arn
        if model.kms_key_arn is not None:
            response["ServerSideKmsKeyId"] = model.kms_key_arn
        return response

    def _list_models(self, params: Params) -> Response:
        prefix = params.get("ModelNameBeginsWith", "")
        dataset_prefix = params.get("DatasetNameBeginsWith", "")
        status = params.get("Status")
        matching = [
            model
            for _, model in sorted(self._models.items())
            if model.name.startswith(prefix)
            and model.dataset_name.startswith(dataset_prefix)
            and status in (None, model.status)
        ]
        page, next_token = _page(matching, params, key=lambda model: model.name)
        summaries = [
            {
                "ModelName": model.name,
                "ModelArn": model.arn,
                "DatasetName": model.dataset_name,
                "DatasetArn": model.dataset_arn,
                "Status": model.status,
                "CreatedAt": model.created_at,
                "ModelQuality": model.quality,
            }
            for model in page
        ]
        return _with_token({"ModelSummaries": summaries}, next_token)

    # --- Tags ------------------------------------------------------------------

    def _tag_resource(self, params: Params) -> Response:
        tags = self._tags_of(params["ResourceArn"])
        merged = {**tags, **{tag["Key"]: tag["Value"] for tag in params["Tags"]}}
        if len(merged) > MAX_TAGS_PER_RESOURCE:
            raise ServiceError(
                "ServiceQuotaExceededException",
                f"A resource can have at most {MAX_TAGS_PER_RESOURCE} tags.",
            )
        tags.update(merged)
        self._save()
        return {}

    def _untag_resource(self, params: Params) -> Response:
        tags = self._tags_of(params["ResourceArn"])
        for key in params["TagKeys"]:
            tags.pop(key, None)
        self._save()
        return {}

    def _list_tags_for_resource(self, params: Params) -> Response:
        tags = self._tags_of(params["ResourceArn"])
        return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}

    # --- The state file ----------------------------------------------------------

    def _save(self) -> None:
        """Write the state to the state file, if any: a temporary file replaces the
        old one, so a crash mid-write never leaves a torn file."""
        path = self.config.state_file
        if path is None:
            return
        # Shallow copies (not dataclasses.asdict, which deep-copies): this runs
        # under the lock on every mutation, and is serialized right away.
        state = {
            "version": STATE_VERSION,
            "models": [vars(model) for model in self._models.values()],
            "schedulers": [
                {**vars(scheduler), "runs": [vars(run) for run in scheduler.runs]}
                for scheduler in self._schedulers.values()
            ],
            "tokens": self._tokens,
        }
        text = json.dumps(state, separators=(",", ":"))
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _load(self) -> None:
        path = self.config.state_file
        if path is None or not path.exists():
            return
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            if state.get("version") != STATE_VERSION:
                raise ValueError(f"unknown version {state.get('version')!r}")
            models = [_Model(**model) for model in state["models"]]
            schedulers = [
                _Scheduler(**{**item, "runs": [_Run(**run) for run in item["runs"]]})
                for item in state["schedulers"]
            ]
            tokens = {
                operation: dict(state["tokens"].get(operation, {})) for operation in self._tokens
            }
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            # Refuse to start rather than overwrite a file we cannot read.
            raise ValueError(f"cannot read the state file {path}: {error}") from error
        self._models = {model.name: model for model in models}
        self._schedulers = {scheduler.name: scheduler for scheduler in schedulers}
        self._tokens = tokens


# --- Pagination ----------------------------------------------------------------
# A NextToken names the last key returned, so items added or removed between
# pages neither repeat nor vanish.


def _encode_token(after: str | float) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": after}).encode()).decode()


def _decode_token(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise ServiceError("ValidationException", "NextToken: Invalid pagination token.") from error


def _page(items: list[T], params: Params, key: Callable[[T], str]) -> tuple[list[T], str | None]:
    """One page of items sorted by key, and the token of the next page (None at the end)."""
    if "NextToken" in params:
        after = _decode_token(params["NextToken"])
        if not isinstance(after, str):
            raise ServiceError("ValidationException", "NextToken: Invalid pagination token.")
        items = [item for item in items if key(item) > after]
    limit = params.get("MaxResults", DEFAULT_PAGE_SIZE)
    page = items[:limit]
    next_token = _encode_token(key(page[-1])) if len(items) > limit else None
    return page, next_token


def _with_token(response: Response, next_token: str | None) -> Response:
    if next_token is not None:
        response["NextToken"] = next_token
    return response
