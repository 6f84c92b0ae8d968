"""Validate request dicts against the service model, exactly as the service would.

Patterns follow the Smithy specification: ECMA-262 regular expressions that
are *not* implicitly anchored (a match anywhere counts; a pattern's own ^ and
$ anchor it). Python's `re` differs from ECMA-262 in a few places, so every
pattern is translated before it is compiled; a construct we cannot translate
raises instead of being dropped.
"""

from __future__ import annotations

import datetime
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from scheduler_ui.lookout.service import Shape, operation_input, shape


@dataclass(frozen=True)
class ValidationError:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


# --- ECMA-262 patterns in Python's re ------------------------------------------

# ECMA-262 \s: WhiteSpace and LineTerminator.
_ECMA_SPACE = r"\t\n\x0b\x0c\r \xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ECMA_CLASSES = {"d": "0-9", "w": "A-Za-z0-9_", "s": _ECMA_SPACE}
# ECMA-262 `.` matches anything but a line terminator.
_ECMA_DOT = r"[^\n\r\u2028\u2029]"
# Java's POSIX-style classes (US-ASCII only, as in java.util.regex).
_JAVA_POSIX = {
    "ASCII": r"\x00-\x7f",
    "Alpha": "A-Za-z",
    "Digit": "0-9",
    "Alnum": "A-Za-z0-9",
    "Upper": "A-Z",
    "Lower": "a-z",
    "Punct": r"!-/:-@\[-`{-~",
    "Space": r" \t\n\x0b\x0c\r",
    "XDigit": "0-9a-fA-F",
}


def _char(code: int) -> str:
    return f"\\U{code:08x}"


def _ranges_to_class_body(ranges: list[tuple[int, int]]) -> str:
    return "".join(_char(a) if a == b else f"{_char(a)}-{_char(b)}" for a, b in ranges)


@cache
def _unicode_category(category: str, negated: bool) -> str:
    """The class body of a Unicode general category such as M or Lu (or its complement)."""
    ranges: list[tuple[int, int]] = []
    start = None
    for code in range(sys.maxunicode + 2):
        inside = (
            code <= sys.maxunicode
            and unicodedata.category(chr(code)).startswith(category) != negated
        )
        if inside and start is None:
            start = code
        elif not inside and start is not None:
            ranges.append((start, code - 1))
            start = None
    if not ranges:
        raise ValueError(f"unknown Unicode general category {category!r}")
    return _ranges_to_class_body(ranges)


def _property_class(name: str, negated: bool) -> str:
    """The class body for \\p{name} (or \\P{name} when negated)."""
    if name in _JAVA_POSIX and not negated:
        return _JAVA_POSIX[name]
    if re.fullmatch(r"[A-Z][a-z]?", name):
        return _unicode_category(name, negated)
    raise ValueError(f"unsupported character property {name!r} (negated={negated})")


def _class_escape(out: list[str], body: str, pattern: str, after: int) -> str:
    """A class escape (\\d, \\p{M}, ...) inside a character class, expanded to its body.

    ECMA-262 (Annex B) never lets a class escape end a range: a `-` next to one is a
    literal dash. Once expanded to a body of ranges, Python would read that `-` as a
    range operator, so a dash just before is escaped, and one just after (the
    ambiguous `[\\d-z]`, whose `z` must not start a range) is refused.
    """
    if out and out[-1] == "-":
        out[-1] = "\\-"
    if pattern[after : after + 1] == "-" and pattern[after + 1 : after + 2] != "]":
        raise ValueError("a '-' after a class escape inside a character class")
    return body


def ecma_to_python(pattern: str) -> str:
    """Translate an ECMA-262 pattern into Python `re` syntax with the same meaning."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
            if i >= len(pattern):
                raise ValueError("pattern ends with a backslash")
            e = pattern[i]
            if e in "pP" and pattern[i + 1 : i + 2] == "{":
                end = pattern.index("}", i)
                body = _property_class(pattern[i + 2 : end], negated=e == "P")
                out.append(_class_escape(out, body, pattern, end + 1) if in_class else f"[{body}]")
                i = end + 1
                continue
            if e in _ECMA_CLASSES:
                body = _ECMA_CLASSES[e]
                out.append(_class_escape(out, body, pattern, i + 1) if in_class else f"[{body}]")
            elif e.lower() in _ECMA_CLASSES:
                if in_class:
                    raise ValueError(f"unsupported \\{e} inside a character class")
                out.append(f"[^{_ECMA_CLASSES[e.lower()]}]")
            elif e == "u":
                out.append("\\u" + pattern[i + 1 : i + 5])
                i += 4
            elif e == "x":
                out.append("\\x" + pattern[i + 1 : i + 3])
                i += 2
            elif e in "bB" and not in_class:
                out.append(f"(?a:\\{e})")
            elif e in "tnrfv0" or e.isdigit():
                out.append("\\" + ("x0b" if e == "v" else e))
            elif e.isalpha():
                raise ValueError(f"unsupported escape \\{e}")
            else:
                out.append(re.escape(e))
            i += 1
            continue
        if in_class:
            if c == "]":
                in_class = False
            elif c == "[":
                c = "\\["  # literal in ECMA-262; Python would warn about nested sets
            out.append(c)
        elif c == "[":
            in_class = True
            out.append(c)
            if pattern[i + 1 : i + 2] == "^":
                out.append("^")
                i += 1
            if pattern[i + 1 : i + 2] == "]":
                raise ValueError("empty character classes are not supported")
        elif c == ".":
            out.append(_ECMA_DOT)
        elif c == "$":
            out.append(r"\Z")
        elif c == "(" and pattern.startswith("(?<", i) and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


@cache
def compiled_pattern(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(ecma_to_python(pattern))
    except re.error as error:  # e.g. a malformed \u escape: untranslatable, say so
        raise ValueError(f"cannot translate pattern {pattern!r}: {error}") from error


def matches(pattern: str, value: str) -> bool:
    """Whether a Smithy pattern matches: a match anywhere in the value counts."""
    return compiled_pattern(pattern).search(value) is not None


# --- Validating values against shapes -------------------------------------------

_NUMBER_TYPES = {"integer", "long", "float", "double"}


def validate_request(operation: str, params: Any) -> list[ValidationError]:
    """Every way `params` breaks the rules of an operation's input, as (path, message)."""
    return validate_value(operation_input(operation), params)


def validate_value(shape_name: str, value: Any, path: str = "") -> list[ValidationError]:
    """Every way `value` breaks the rules of the named shape."""
    return list(_errors(shape(shape_name), value, path))


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _errors(s: Shape, value: Any, path: str) -> Iterator[ValidationError]:
    kind = s["type"]
    if kind == "structure":
        yield from _structure_errors(s, value, path)
    elif kind == "list":
        yield from _list_errors(s, value, path)
    elif kind == "map":
        yield from _map_errors(s, value, path)
    elif kind == "string":
        yield from _string_errors(s, value, path)
    elif kind in _NUMBER_TYPES:
        yield from _number_errors(s, value, path)
    elif kind == "boolean":
        if not isinstance(value, bool):
            yield ValidationError(path, f"Must be true or false, not {_type_name(value)}.")
    elif kind == "timestamp":
        if isinstance(value, bool) or not isinstance(value, datetime.datetime | int | float):
            yield ValidationError(path, f"Must be a timestamp, not {_type_name(value)}.")
    elif kind == "blob":
        if not isinstance(value, bytes | bytearray | str):
            yield ValidationError(path, f"Must be binary data, not {_type_name(value)}.")
        else:
            yield from _length_errors(s, len(value), path, "bytes")
    else:
        raise ValueError(f"unknown shape type {kind!r}")


def _type_name(value: Any) -> str:
    names = {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a whole number",
        float: "a number",
    }
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


def _structure_errors(s: Shape, value: Any, path: str) -> Iterator[ValidationError]:
    if not isinstance(value, dict):
        yield ValidationError(path, f"Must be an object, not {_type_name(value)}.")
        return
    members: dict[str, Any] = s.get("members", {})
    for name in s.get("required", []):
        if value.get(name) is None:
            yield ValidationError(_join(path, name), "This member is required.")
    for name, member_value in value.items():
        if name not in members:
            yield ValidationError(_join(path, str(name)), "Unknown member.")
        elif member_value is not None:
            yield from _errors(shape(members[name]["shape"]), member_value, _join(path, name))


def _list_errors(s: Shape, value: Any, path: str) -> Iterator[ValidationError]:
    if not isinstance(value, list | tuple):
        yield ValidationError(path, f"Must be a list, not {_type_name(value)}.")
        return
    yield from _length_errors(s, len(value), path, "items")
    member = shape(s["member"]["shape"])
    for index, item in enumerate(value):
        yield from _errors(member, item, f"{path}[{index}]")


def _map_errors(s: Shape, value: Any, path: str) -> Iterator[ValidationError]:
    if not isinstance(value, dict):
        yield ValidationError(path, f"Must be an object, not {_type_name(value)}.")
        return
    yield from _length_errors(s, len(value), path, "entries")
    for key, item in value.items():
        yield from _errors(shape(s["key"]["shape"]), key, f"{path}.<key>")
        yield from _errors(shape(s["value"]["shape"]), item, f"{path}.{key}")


def _string_errors(s: Shape, value: Any, path: str) -> Iterator[ValidationError]:
    if not isinstance(value, str):
        yield ValidationError(path, f"Must be a string, not {_type_name(value)}.")
        return
    if "enum" in s:
        if value not in s["enum"]:
            yield ValidationError(path, f"Must be one of: {', '.join(s['enum'])}.")
        return
    length_errors = list(_length_errors(s, len(value), path, "characters"))
    yield from length_errors
    if "pattern" in s and not length_errors and not matches(s["pattern"], value):
        yield ValidationError(path, f"Must match the pattern {s['pattern']}")


def _length_errors(s: Shape, length: int, path: str, unit: str) -> Iterator[ValidationError]:
    low, high = s.get("min"), s.get("max")
    if low is not None and length < low:
        yield ValidationError(path, f"Must have at least {low} {unit}, not {length}.")
    if high is not None and length > high:
        yield ValidationError(path, f"Must have at most {high} {unit}, not {length}.")


def _number_errors(s: Shape, value: Any, path: str) -> Iterator[ValidationError]:
    integral = s["type"] in {"integer", "long"}
    wanted = int if integral else (int, float)
    if isinstance(value, bool) or not isinstance(value, wanted):
        article = "a whole number" if integral else "a number"
        yield ValidationError(path, f"Must be {article}, not {_type_name(value)}.")
        return
    low, high = s.get("min"), s.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = (
            f"between {low} and {high}"
            if low is not None and high is not None
            else (f"at least {low}" if low is not None else f"at most {high}")
        )
        yield ValidationError(path, f"Must be {bounds}, not {value}.")
