from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config
from django.apps import apps as django_apps
from django.contrib.auth.models import Group, User
from django.test import Client

from scheduler_ui.local_endpoint.backend import DEMO_MODELS, EndpointConfig
from scheduler_ui.local_endpoint.server import LocalEndpoint
from scheduler_ui.schedulers.access import OPERATOR, ROLES, VIEWER, sync_roles

pytest_plugins = ["tests.services"]

if TYPE_CHECKING:
    from mypy_boto3_lookoutequipment import LookoutEquipmentClient


@pytest.fixture
def make_lookout_endpoint() -> Iterator[Callable[..., LocalEndpoint]]:
    """Start local Lookout for Equipment endpoints with custom settings, e.g.
    make_lookout_endpoint(throttle_rate=1.0, clock=ManualClock()). Keyword
    arguments are EndpointConfig fields, plus `clock` and `sleep`. By default
    the demo models are seeded and status changes take no time."""
    started: list[LocalEndpoint] = []

    def make(
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        **config: Any,
    ) -> LocalEndpoint:
        options = {"pending_seconds": 0.0, "stopping_seconds": 0.0, "demo_models": DEMO_MODELS}
        config = {**options, **config}
        endpoint = LocalEndpoint(EndpointConfig(**config), clock=clock, sleep=sleep).start()
        started.append(endpoint)
        return endpoint

    yield make
    for endpoint in started:
        endpoint.stop()


@pytest.fixture
def lookout_endpoint(make_lookout_endpoint: Callable[..., LocalEndpoint]) -> LocalEndpoint:
    return make_lookout_endpoint()


@pytest.fixture
def make_lookout_client() -> Callable[[LocalEndpoint], LookoutEquipmentClient]:
    """A plain boto3 client for a local endpoint. botocore does not retry (as in
    the product), so every call a test makes reaches the endpoint exactly once."""

    def make(endpoint: LocalEndpoint) -> LookoutEquipmentClient:
        return boto3.client(
            "lookoutequipment",
            region_name="us-east-1",
            endpoint_url=endpoint.url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(retries={"total_max_attempts": 1}),
        )

    return make


@pytest.fixture
def lookout_client(
    lookout_endpoint: LocalEndpoint,
    make_lookout_client: Callable[[LocalEndpoint], LookoutEquipmentClient],
) -> LookoutEquipmentClient:
    return make_lookout_client(lookout_endpoint)


# --- The product pointed at a local endpoint ------------------------------------


@dataclass
class Lookout:
    """A local endpoint the product's settings point at, and a client to inspect it."""

    endpoint: LocalEndpoint
    client: LookoutEquipmentClient


@pytest.fixture
def configure_lookout(
    db: None,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_lookout_endpoint: Callable[..., LocalEndpoint],
) -> Callable[..., LocalEndpoint]:
    """Start a local endpoint with the given EndpointConfig fields and point the
    product's settings (LOOKOUT_ENDPOINT_URL, credentials) at it."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")

    def configure(**config: Any) -> LocalEndpoint:
        endpoint = make_lookout_endpoint(**config)
        settings.LOOKOUT_ENDPOINT_URL = endpoint.url
        return endpoint

    return configure


@pytest.fixture
def lookout(
    configure_lookout: Callable[..., LocalEndpoint],
    make_lookout_client: Callable[[LocalEndpoint], LookoutEquipmentClient],
) -> Lookout:
    endpoint = configure_lookout()
    return Lookout(endpoint, make_lookout_client(endpoint))


# --- People ---------------------------------------------------------------------


@pytest.fixture
def make_role_user(db: None) -> Callable[..., User]:
    """Users with a role: make_role_user("Operator"), make_role_user("Viewer",
    "carol"); None for a user with no role, "superuser" for a superuser."""
    # The data migration made the groups, but a transactional test's flush empties them.
    if Group.objects.filter(name__in=ROLES).count() < len(ROLES):
        sync_roles(django_apps)

    def make(role: str | None, username: str = "") -> User:
        username = username or (role or "nobody").lower()
        # No password: hashing one takes longer than the rest of most tests.
        if role == "superuser":
            return User.objects.create_superuser(username, f"{username}@example.com", None)
        user = User.objects.create_user(username, f"{username}@example.com")
        if role is not None:
            user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def operator(make_role_user: Callable[..., User]) -> User:
    return make_role_user(OPERATOR, "alice")


@pytest.fixture
def viewer(make_role_user: Callable[..., User]) -> User:
    return make_role_user(VIEWER, "bob")


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client: Client, viewer: User) -> Client:
    client.force_login(viewer)
    return client
