"""What we know of the Lookout for Equipment API: its service model, its rules,
a client factory and how its errors are classified. No views, no ORM."""

from __future__ import annotations

from scheduler_ui.lookout.client import (
    FINAL_ERROR_CODES,
    RETRYABLE_ERROR_CODES,
    error_code_and_message,
    is_retryable,
    list_all,
    make_client,
)
from scheduler_ui.lookout.service import documentation, enum_values, operation_input, shape
from scheduler_ui.lookout.validation import ValidationError, validate_request, validate_value

__all__ = [
    "FINAL_ERROR_CODES",
    "RETRYABLE_ERROR_CODES",
    "ValidationError",
    "documentation",
    "enum_values",
    "error_code_and_message",
    "is_retryable",
    "list_all",
    "make_client",
    "operation_input",
    "shape",
    "validate_request",
    "validate_value",
]
