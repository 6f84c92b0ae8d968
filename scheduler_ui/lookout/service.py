"""The lookoutequipment service model, loaded from the installed botocore.

It is the single source of truth for every member, nesting and constraint.
"""

from __future__ import annotations

import html
import re
from functools import cache
from typing import Any, Final

from botocore.loaders import Loader

SERVICE_NAME: Final = "lookoutequipment"
TARGET_PREFIX = "AWSLookoutEquipmentFrontendService"

Shape = dict[str, Any]


@cache
def service_model() -> dict[str, Any]:
    model: dict[str, Any] = Loader().load_service_model(SERVICE_NAME, "service-2")
    return model


def shape(name: str) -> Shape:
    shapes: dict[str, Shape] = service_model()["shapes"]
    return shapes[name]


def operation(name: str) -> dict[str, Any]:
    operations: dict[str, dict[str, Any]] = service_model()["operations"]
    return operations[name]


def operation_input(name: str) -> str:
    """The name of the input shape of an operation, e.g. CreateInferenceSchedulerRequest."""
    return str(operation(name)["input"]["shape"])


def operation_names() -> list[str]:
    return list(service_model()["operations"])


def member_shape_name(structure: str, path: str) -> str:
    """The shape of a dotted member path inside a structure, e.g.
    member_shape_name(
        "CreateInferenceSchedulerRequest", "DataInputConfiguration.InputTimeZoneOffset"
    )
    """
    current = structure
    for part in path.split("."):
        current = shape(current)["members"][part]["shape"]
    return current


def get_member(request: dict[str, Any], path: str) -> Any:
    """The value at a dotted member path of a request, or None when it is not set."""
    node: Any = request
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def set_member(request: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted member path, making the structures around it."""
    *parents, last = path.split(".")
    node = request
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def enum_values(shape_name: str) -> list[str]:
    return list(shape(shape_name).get("enum", []))


_TAG = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")


def documentation(structure: str, path: str) -> str:
    """The API documentation of a member, as plain text."""
    *parents, last = path.split(".")
    owner = member_shape_name(structure, ".".join(parents)) if parents else structure
    raw = shape(owner)["members"][last].get("documentation", "")
    text = html.unescape(_TAG.sub(" ", raw))
    return _SPACES.sub(" ", text).strip()


def in_model_order(shape_name: str, value: Any) -> Any:
    """`value` with the members of every structure in the order the shape lists
    them (PostgreSQL's jsonb stores keys in its own order). Lists and maps are
    walked through; keys the shape does not know come last, as they were."""
    s = shape(shape_name)
    if s["type"] == "structure" and isinstance(value, dict):
        members: dict[str, Any] = s["members"]
        ordered = {
            name: in_model_order(members[name]["shape"], value[name])
            for name in members
            if name in value
        }
        return {**ordered, **{key: item for key, item in value.items() if key not in members}}
    if s["type"] == "list" and isinstance(value, list):
        return [in_model_order(s["member"]["shape"], item) for item in value]
    if s["type"] == "map" and isinstance(value, dict):
        return {key: in_model_order(s["value"]["shape"], item) for key, item in value.items()}
    return value
