"""The boto3 client, made from settings, and how its errors are classified."""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from django.conf import settings

from scheduler_ui.lookout.service import SERVICE_NAME

if TYPE_CHECKING:
    from mypy_boto3_lookoutequipment import LookoutEquipmentClient

# Worth another attempt later, with the same ClientToken: the request may not
# have been applied, and sending it again is safe.
RETRYABLE_ERROR_CODES = frozenset(
    {
        # Modelled by the service.
        "ThrottlingException",
        "InternalServerException",
        # What AWS front ends answer when the service itself did not.
        "ServiceUnavailable",
        "InternalFailure",
        "RequestTimeout",
        # The connection, not the service (botocore's exception names).
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "HTTPClientError",
    }
)
# The request itself is wrong or not allowed: sending it again changes nothing.
# (ConflictException is final too, but the worker first reconciles it.)
FINAL_ERROR_CODES = frozenset(
    {
        "ValidationException",
        "ResourceNotFoundException",
        "AccessDeniedException",
        "ServiceQuotaExceededException",
        "ConflictException",
    }
)
_CONNECTION_ERRORS = (ConnectionError, HTTPClientError)


def is_retryable(code: str) -> bool:
    return code in RETRYABLE_ERROR_CODES


def error_code_and_message(error: Exception) -> tuple[str, str] | None:
    """The AWS error code and message of an exception raised by a call, or None
    when the exception is not about the call (a bug of ours, which should surface)."""
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return str(details.get("Code", "Unknown")), str(details.get("Message", ""))
    if isinstance(error, _CONNECTION_ERRORS):
        return type(error).__name__, str(error)
    return None


class _DropDeprecationNotices(logging.Filter):
    """botocore logs 'Warning: lookoutequipment.X() is deprecated' on every call:
    the whole service reached its end of support on 2026-10-07, which the README
    says once; repeating it on every call would only bury the useful lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).endswith("is deprecated")


logging.getLogger("botocore.client").addFilter(_DropDeprecationNotices())


def make_client() -> LookoutEquipmentClient:
    """A Lookout for Equipment client for the configured endpoint and region.

    botocore itself never retries (total_max_attempts=1): the worker retries,
    so that every attempt is recorded in the history and retries don't multiply.
    """
    return _client(
        settings.LOOKOUT_ENDPOINT_URL,
        settings.AWS_REGION,
        settings.LOOKOUT_CONNECT_TIMEOUT,
        settings.LOOKOUT_READ_TIMEOUT,
    )


# One client, for the settings as they are: a process needs no more, and each
# client holds its own copy of the service model (tests change the settings).
@lru_cache(maxsize=1)
def _client(
    endpoint_url: str | None, region: str, connect_timeout: float, read_timeout: float
) -> LookoutEquipmentClient:
    config = Config(
        region_name=region,
        retries={"mode": "standard", "total_max_attempts": 1},
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        max_pool_connections=32,
    )
    return boto3.session.Session().client(SERVICE_NAME, endpoint_url=endpoint_url, config=config)


def list_all(
    client: LookoutEquipmentClient, operation: str, key: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a List* operation, following NextToken (the service model
    has no paginators)."""
    method = getattr(client, re.sub(r"(?<!^)(?=[A-Z])", "_", operation).lower())
    items: list[dict[str, Any]] = []
    while True:
        page = method(**params)
        items.extend(page.get(key, []))
        if not page.get("NextToken"):
            return items
        params["NextToken"] = page["NextToken"]
