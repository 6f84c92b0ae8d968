"""The specification of request validation against the lookoutequipment service model.

Every case starts from one valid, complete CreateInferenceScheduler request and
changes one member, addressed by a dotted path such as "Tags[3].Key". Bounds
that a case is about are read from the service model, so the spec follows it.
Patterns have Smithy semantics: not implicitly anchored, a match anywhere counts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from scheduler_ui.lookout.service import Shape, shape
from scheduler_ui.lookout.validation import ValidationError, validate_request

OPERATION = "CreateInferenceScheduler"
REQUEST_SHAPE = "CreateInferenceSchedulerRequest"
MISSING = object()  # as a value in with_member(): remove the member

NAMES = ("ModelName", "InferenceSchedulerName")
BUCKETS = (
    "DataInputConfiguration.S3InputConfiguration.Bucket",
    "DataOutputConfiguration.S3OutputConfiguration.Bucket",
)
PREFIXES = (
    "DataInputConfiguration.S3InputConfiguration.Prefix",
    "DataOutputConfiguration.S3OutputConfiguration.Prefix",
)
KMS_KEYS = ("DataOutputConfiguration.KmsKeyId", "ServerSideKmsKeyId")
OFFSET = "DataDelayOffsetInMinutes"
FREQUENCY = "DataUploadFrequency"
TIME_ZONE = "DataInputConfiguration.InputTimeZoneOffset"
TIMESTAMP_FORMAT = "DataInputConfiguration.InferenceInputNameConfiguration.TimestampFormat"
DELIMITER = "DataInputConfiguration.InferenceInputNameConfiguration.ComponentTimestampDelimiter"
ROLE = "RoleArn"
TOKEN = "ClientToken"
TAG_KEY = "Tags[3].Key"
TAG_VALUE = "Tags[3].Value"

ROLE_ARN = "arn:aws:iam::123456789012:role/LookoutAccess"
_ARABIC_INDIC = {ord(str(digit)): chr(0x0660 + digit) for digit in range(10)}


def arabic_indic(text: str) -> str:
    """`text` with its ASCII digits written as Arabic-Indic digits (Unicode Nd)."""
    return text.translate(_ARABIC_INDIC)


def tag(index: int) -> dict[str, str]:
    return {"Key": f"team-{index}", "Value": f"pumps and valves {index}"}


def full_request() -> dict[str, Any]:
    """A valid request that sets every member of CreateInferenceSchedulerRequest."""
    return {
        "ModelName": "pump-model_1",
        "InferenceSchedulerName": "pump-scheduler",
        "DataDelayOffsetInMinutes": 5,
        "DataUploadFrequency": "PT5M",
        "DataInputConfiguration": {
            "S3InputConfiguration": {"Bucket": "input-bucket", "Prefix": "plant/line-1/"},
            "InputTimeZoneOffset": "+05:30",
            "InferenceInputNameConfiguration": {
                "TimestampFormat": "yyyyMMddHHmmss",
                "ComponentTimestampDelimiter": "_",
            },
        },
        "DataOutputConfiguration": {
            "S3OutputConfiguration": {"Bucket": "output.bucket", "Prefix": "results/"},
            "KmsKeyId": "alias/lookout",
        },
        "RoleArn": ROLE_ARN,
        "ServerSideKmsKeyId": (
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ),
        "ClientToken": "7f1c1d2e-0000-4000-8000-000000000001",
        "Tags": [tag(index) for index in range(4)],
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def steps(path: str) -> list[str | int]:
    """ "Tags[3].Key" -> ["Tags", 3, "Key"]."""
    return [int(index) if index else name for name, index in _STEP.findall(path)]


def with_member(path: str, value: Any) -> dict[str, Any]:
    """The full request with the member at `path` set to `value` (or removed: MISSING)."""
    request = full_request()
    *parents, last = steps(path)
    target: Any = request
    for step in parents:
        target = target[step]
    if value is MISSING:
        del target[last]
    else:
        target[last] = value
    return request


def member_shape(path: str) -> Shape:
    """The model's shape of the member at `path` of the request."""
    current = shape(REQUEST_SHAPE)
    for step in steps(path):
        ref = current["member"] if isinstance(step, int) else current["members"][step]
        current = shape(ref["shape"])
    return current


def limit(path: str, key: str) -> int:
    """A bound of the member at `path`, from the model: limit("RoleArn", "min")."""
    return int(member_shape(path)[key])


def errors_with(path: str, value: Any) -> list[ValidationError]:
    return validate_request(OPERATION, with_member(path, value))


def too_long(path: str) -> str:
    return "x" * (limit(path, "max") + 1)


# --- Tables -------------------------------------------------------------------


def ok(path: str, value: Any, why: str) -> Any:
    return pytest.param(path, value, id=f"{path}: {why}")


def bad(path: str, value: Any, says: str, why: str) -> Any:
    return pytest.param(path, value, says, id=f"{path}: {why}")


def bad_pattern(path: str, value: str, why: str) -> Any:
    return bad(path, value, f"Must match the pattern {member_shape(path)['pattern']}", why)


def too_short_says(path: str) -> str:
    return f"at least {limit(path, 'min')} characters"


def too_long_says(path: str) -> str:
    return f"at most {limit(path, 'max')} characters"


ACCEPTED = [
    *[
        case
        for name in NAMES
        for case in (
            ok(name, "a", "a single character (the model's min)"),
            ok(name, "Pump_Model-07", "letters, digits, underscore and hyphen"),
            ok(name, "n" * limit(name, "max"), "exactly the model's max length"),
        )
    ],
    ok(OFFSET, limit(OFFSET, "min"), "the model's min"),
    ok(OFFSET, limit(OFFSET, "max"), "the model's max"),
    ok(OFFSET, None, "null counts as omitted"),
    *[ok(FREQUENCY, value, f"enum value {value}") for value in member_shape(FREQUENCY)["enum"]],
    *[
        case
        for bucket in BUCKETS
        for case in (
            ok(bucket, "abc", "the model's min length"),
            ok(bucket, "b" * limit(bucket, "max"), "the model's max length"),
            ok(bucket, "my.bucket-01", "dots, hyphens and digits inside"),
        )
    ],
    *[
        case
        for prefix in PREFIXES
        for case in (
            ok(prefix, "", "empty"),
            ok(prefix, "plant/line 1/\t2024/", "ending in a slash, with space and tab"),
            ok(prefix, "données-ÿ/", "Latin-1 characters up to \\xff"),
            ok(prefix, "p" * (limit(prefix, "max") - 1) + "/", "the model's max length"),
            ok(
                prefix,
                "€data/",
                "a character above \\xff before an allowed run still matches (unanchored)",
            ),
        )
    ],
    ok(TIME_ZONE, "+05:30", "a positive offset"),
    ok(TIME_ZONE, "-08:00", "a negative offset"),
    ok(TIMESTAMP_FORMAT, "EPOCH", "EPOCH"),
    ok(TIMESTAMP_FORMAT, "yyyy-MM-dd-HH-mm-ss", "the dashed format"),
    ok(TIMESTAMP_FORMAT, "yyyyMMddHHmmss", "the compact format"),
    ok(TIMESTAMP_FORMAT, "EPOCHX", "EPOCHX (the first alternative is anchored only at ^)"),
    ok(
        TIMESTAMP_FORMAT,
        "xyyyyMMddHHmmss",
        "xyyyyMMddHHmmss (the last alternative is anchored only at $)",
    ),
    ok(
        TIMESTAMP_FORMAT,
        "x-yyyy-MM-dd-HH-mm-ss-x",
        "the dashed format inside other text (the middle alternative is unanchored)",
    ),
    ok(DELIMITER, "-", "a hyphen"),
    ok(DELIMITER, "_", "an underscore"),
    ok(DELIMITER, " ", "a space"),
    ok(DELIMITER, "", "empty"),
    ok(DELIMITER, "\t", "a tab (ECMA \\s)"),
    ok(DELIMITER, "\u00a0", "a no-break space (ECMA \\s)"),
    *[
        case
        for key in KMS_KEYS
        for case in (
            ok(key, "alias/lookout", "an alias"),
            ok(key, "1234abcd-12ab-34cd-56ef-1234567890ab", "a key id"),
            ok(key, "arn:aws:kms:eu-west-1:123456789012:key/abc", "a key ARN"),
            ok(key, "k" * limit(key, "min"), "the model's min length"),
            ok(key, "k" * limit(key, "max"), "the model's max length"),
        )
    ],
    ok(ROLE, ROLE_ARN, "a role ARN"),
    ok(ROLE, "arn:aws-cn:iam::123456789012:role/x", "a role ARN in another partition"),
    ok(ROLE, "arn:aws:iam::123456789012:role/service-role/Lookout", "a role with a path"),
    ok(ROLE, "role=arn:aws:iam::123456789012:role/x", "text before arn: (unanchored)"),
    ok(ROLE, ROLE_ARN + "\n", "a trailing newline after the role name (unanchored)"),
    ok(
        ROLE,
        "arn:aws:iam::123456789012:role/" + "r" * (limit(ROLE, "max") - 31),
        "the model's max length",
    ),
    ok(TOKEN, "t", "one character (the model's min)"),
    ok(TOKEN, "t" * limit(TOKEN, "max"), "the model's max length"),
    ok(TOKEN, "éé-éé", "one ASCII character anywhere suffices (unanchored)"),
    ok("Tags", [], "an empty list"),
    ok("Tags", [tag(i) for i in range(limit("Tags", "max"))], "the model's max item count"),
    ok(TAG_KEY, "AWS:cost-centre", "AWS: in capitals (only lower-case aws: is reserved)"),
    ok(TAG_KEY, "a+b=c._:/-", "the punctuation of the pattern"),
    ok(TAG_KEY, "k" * limit(TAG_KEY, "max"), "the model's max length"),
    ok(TAG_VALUE, "", "empty"),
    ok(TAG_VALUE, "v" * limit(TAG_VALUE, "max"), "the model's max length"),
    ok(TAG_VALUE, "#1 & !", "any characters (the pattern matches the empty string anywhere)"),
]


REFUSED = [
    *[
        case
        for name in NAMES
        for case in (
            bad(name, "", too_short_says(name), "empty"),
            bad(name, too_long(name), too_long_says(name), "one over the model's max length"),
            bad_pattern(name, "pump model", "a space"),
            bad_pattern(name, "pump.model", "a dot"),
            bad_pattern(name, "pump\n", "a trailing newline ($ is end of input only)"),
            bad_pattern(name, "modèle", "a non-ASCII letter"),
        )
    ],
    bad(OFFSET, limit(OFFSET, "min") - 1, "between 0 and 60", "one below the model's min"),
    bad(OFFSET, limit(OFFSET, "max") + 1, "between 0 and 60", "one above the model's max"),
    bad(OFFSET, 5.0, "Must be a whole number", "a float"),
    bad(OFFSET, True, "Must be a whole number, not a boolean", "a boolean"),
    bad(FREQUENCY, "PT1M", "Must be one of: PT5M, PT10M", "a frequency not in the enum"),
    bad(FREQUENCY, "pt5m", "Must be one of", "the right value in lower case"),
    bad(FREQUENCY, "PT5M ", "Must be one of", "a trailing space"),
    *[
        case
        for bucket in BUCKETS
        for case in (
            bad(bucket, "ab", too_short_says(bucket), "shorter than the model's min"),
            bad(bucket, too_long(bucket), too_long_says(bucket), "longer than the model's max"),
            bad_pattern(bucket, "My-Bucket", "upper case"),
            bad_pattern(bucket, "my_bucket", "an underscore"),
            bad_pattern(bucket, "-bucket", "a leading hyphen"),
            bad_pattern(bucket, "bucket.", "a trailing dot"),
            bad_pattern(bucket, "my-bucket\n", "a trailing newline"),
        )
    ],
    *[
        case
        for prefix in PREFIXES
        for case in (
            bad_pattern(prefix, "plant", "not ending in a slash"),
            bad_pattern(prefix, "plant/line-1", "a slash not at the end"),
            bad_pattern(prefix, "plant/\n", "a newline after the final slash"),
            bad_pattern(prefix, "\x01/", "a control character before the slash"),
            bad_pattern(prefix, "€/", "a character above \\xff before the slash"),
            bad_pattern(prefix, "/", "only a slash"),
            bad(
                prefix,
                "p" * limit(prefix, "max") + "/",
                too_long_says(prefix),
                "longer than the model's max",
            ),
        )
    ],
    bad_pattern(TIME_ZONE, "05:30", "no sign"),
    bad_pattern(TIME_ZONE, "+5:30", "a one-digit hour"),
    bad_pattern(TIME_ZONE, "+0530", "no colon"),
    bad_pattern(TIME_ZONE, "+05:30\n", "a trailing newline"),
    bad_pattern(TIME_ZONE, arabic_indic("+05:30"), "Arabic-Indic digits"),
    bad_pattern(TIME_ZONE, "UTC", "a zone name"),
    bad_pattern(TIMESTAMP_FORMAT, "epoch", "lower-case epoch"),
    bad_pattern(TIMESTAMP_FORMAT, "XEPOCH", "text before EPOCH"),
    bad_pattern(TIMESTAMP_FORMAT, "yyyyMMddHHmmssX", "text after the compact format"),
    bad_pattern(TIMESTAMP_FORMAT, "yyyyMMddHHmmss\n", "a trailing newline"),
    bad_pattern(TIMESTAMP_FORMAT, "yyyy-MM-dd", "a date-only format"),
    bad_pattern(TIMESTAMP_FORMAT, "", "empty"),
    bad(DELIMITER, "--", too_long_says(DELIMITER), "longer than the model's max"),
    bad_pattern(DELIMITER, "x", "a letter"),
    bad_pattern(DELIMITER, "\u200b", "a zero-width space (not ECMA \\s)"),
    *[
        case
        for key in KMS_KEYS
        for case in (
            bad(key, "", too_short_says(key), "empty"),
            bad(key, too_long(key), too_long_says(key), "longer than the model's max"),
            bad_pattern(key, "/alias/lookout", "a leading slash"),
            bad_pattern(key, "alias/my key", "a space"),
            bad_pattern(key, "alias/lookout\n", "a trailing newline"),
        )
    ],
    bad(ROLE, "arn:aws:iam::1:role", too_short_says(ROLE), "shorter than the model's min"),
    bad(ROLE, ROLE_ARN + "x" * limit(ROLE, "max"), too_long_says(ROLE), "too long"),
    bad_pattern(
        ROLE, arabic_indic("arn:aws:iam::123456789012:role/x"), "Arabic-Indic digits as account"
    ),
    bad_pattern(ROLE, "arn:aws:iam::12345678901:role/x", "an 11-digit account"),
    bad_pattern(ROLE, "arn:aws:iam::123456789012:user/x", "a user, not a role"),
    bad_pattern(ROLE, "arn:aws:iam::123456789012:role/", "no role name"),
    bad_pattern(ROLE, "arn:aws:iam::123456789012:role/\nx", "a newline as role name (.)"),
    bad_pattern(ROLE, "arn:aws:iam::123456789012:role/\rx", "a carriage return as role name"),
    bad_pattern(ROLE, "arn:aws:sts::123456789012:role/x", "another service"),
    bad(TOKEN, "", too_short_says(TOKEN), "empty"),
    bad(TOKEN, too_long(TOKEN), too_long_says(TOKEN), "longer than the model's max"),
    bad_pattern(TOKEN, "éééé", "only non-ASCII characters"),
    bad(
        "Tags",
        [tag(i) for i in range(limit("Tags", "max") + 1)],
        f"at most {limit('Tags', 'max')} items",
        "one tag over the model's max",
    ),
    bad(TAG_KEY, "", too_short_says(TAG_KEY), "empty"),
    bad(TAG_KEY, too_long(TAG_KEY), too_long_says(TAG_KEY), "longer than the model's max"),
    bad_pattern(TAG_KEY, "aws:cost-centre", "the reserved aws: prefix"),
    bad_pattern(TAG_KEY, "cost centre", "a space"),
    bad_pattern(TAG_KEY, "team\n", "a trailing newline"),
    bad_pattern(TAG_KEY, "équipe", "a non-ASCII letter"),
    bad(TAG_VALUE, too_long(TAG_VALUE), too_long_says(TAG_VALUE), "longer than the model's max"),
]


WRONG_TYPES = [
    bad("DataInputConfiguration", "s3://input-bucket/", "Must be an object, not a string", "a URL"),
    bad(
        "DataInputConfiguration.S3InputConfiguration",
        ["input-bucket"],
        "Must be an object, not a list",
        "a list",
    ),
    bad(
        "DataInputConfiguration.InferenceInputNameConfiguration",
        "EPOCH",
        "Must be an object, not a string",
        "a string",
    ),
    bad(
        "DataOutputConfiguration.S3OutputConfiguration",
        "s3://output.bucket/",
        "Must be an object, not a string",
        "a URL",
    ),
    bad("Tags", {"Key": "team", "Value": "ops"}, "Must be a list, not an object", "one tag dict"),
    bad("Tags[3]", "team=ops", "Must be an object, not a string", "a key=value string"),
    bad(TAG_VALUE, 7, "Must be a string", "a number"),
    bad("ModelName", 5, "Must be a string", "a number"),
    bad(BUCKETS[0], ["input-bucket"], "Must be a string, not a list", "a list"),
    bad(OFFSET, "5", "Must be a whole number, not a string", "a numeric string"),
]


UNKNOWN_MEMBERS = [
    ok("Foo", "bar", "at the top level"),
    ok("modelName", "pump-model", "member names are case-sensitive"),
    ok("DataInputConfiguration.S3InputConfiguration.Region", "eu-west-1", "in S3 input"),
    ok("DataOutputConfiguration.S3OutputConfiguration.KmsKeyId", "alias/x", "one level too deep"),
    ok("Tags[3].Owner", "ops", "in a tag"),
]


# --- Paths the model requires or allows to be left out --------------------------


def _member_paths(shape_name: str, value: Any, path: str = "") -> Iterator[tuple[str, bool]]:
    """(path, required) of every member set in `value`, at every level; the last
    item of each list stands for all of them."""
    s = shape(shape_name)
    if s["type"] == "structure":
        for name, member_value in value.items():
            member_path = f"{path}.{name}" if path else name
            yield member_path, name in s.get("required", [])
            yield from _member_paths(s["members"][name]["shape"], member_value, member_path)
    elif s["type"] == "list" and value:
        index = len(value) - 1
        yield from _member_paths(s["member"]["shape"], value[index], f"{path}[{index}]")


ALL_MEMBERS = list(_member_paths(REQUEST_SHAPE, full_request()))
REQUIRED = [path for path, required in ALL_MEMBERS if required]
OPTIONAL = [path for path, required in ALL_MEMBERS if not required]


# --- The specification ------------------------------------------------------------


def test_full_request_sets_every_member_of_the_model() -> None:
    assert set(full_request()) == set(shape(REQUEST_SHAPE)["members"])


def test_full_request_is_valid() -> None:
    assert validate_request(OPERATION, full_request()) == []


def test_request_with_only_the_required_members_is_valid() -> None:
    request = full_request()
    minimal = {name: request[name] for name in shape(REQUEST_SHAPE)["required"]}
    assert validate_request(OPERATION, minimal) == []


@pytest.mark.parametrize(("path", "value"), ACCEPTED)
def test_value_is_accepted(path: str, value: Any) -> None:
    assert errors_with(path, value) == []


@pytest.mark.parametrize(("path", "value", "says"), REFUSED + WRONG_TYPES)
def test_value_is_refused_at_its_path(path: str, value: Any, says: str) -> None:
    errors = errors_with(path, value)
    assert [error.path for error in errors] == [path]
    assert says in errors[0].message


def test_required_members_are_found_at_every_level() -> None:
    assert {
        "ModelName",
        "ClientToken",
        "DataInputConfiguration.S3InputConfiguration.Bucket",
        "DataOutputConfiguration.S3OutputConfiguration",
        "DataOutputConfiguration.S3OutputConfiguration.Bucket",
        "Tags[3].Key",
        "Tags[3].Value",
    } <= set(REQUIRED)


@pytest.mark.parametrize("path", REQUIRED)
def test_missing_required_member_is_refused(path: str) -> None:
    errors = errors_with(path, MISSING)
    assert [(error.path, error.message) for error in errors] == [(path, "This member is required.")]


@pytest.mark.parametrize("path", REQUIRED)
def test_required_member_set_to_null_counts_as_missing(path: str) -> None:
    errors = errors_with(path, None)
    assert [(error.path, error.message) for error in errors] == [(path, "This member is required.")]


@pytest.mark.parametrize("path", OPTIONAL)
def test_optional_member_may_be_left_out(path: str) -> None:
    assert errors_with(path, MISSING) == []


@pytest.mark.parametrize(("path", "value"), UNKNOWN_MEMBERS)
def test_unknown_member_is_refused(path: str, value: Any) -> None:
    errors = errors_with(path, value)
    assert [(error.path, error.message) for error in errors] == [(path, "Unknown member.")]


def test_request_that_is_not_an_object_is_refused_at_the_root() -> None:
    errors = validate_request(OPERATION, [full_request()])
    assert [(error.path, error.message) for error in errors] == [
        ("", "Must be an object, not a list.")
    ]


def test_every_problem_is_reported_at_once() -> None:
    request = full_request()
    request["ModelName"] = ""
    request["Tags"][1]["Key"] = "aws:reserved"
    del request["DataOutputConfiguration"]["S3OutputConfiguration"]["Bucket"]
    assert sorted(error.path for error in validate_request(OPERATION, request)) == [
        "DataOutputConfiguration.S3OutputConfiguration.Bucket",
        "ModelName",
        "Tags[1].Key",
    ]


def test_pattern_is_not_checked_when_the_length_is_already_wrong() -> None:
    errors = errors_with(BUCKETS[0], "A")
    assert [error.message for error in errors] == ["Must have at least 3 characters, not 1."]


def test_error_reads_as_path_then_message() -> None:
    assert str(ValidationError("Tags[3].Key", "Unknown member.")) == "Tags[3].Key: Unknown member."


# --- Other operations -------------------------------------------------------------

OTHER_OPERATIONS = [
    pytest.param("ListInferenceSchedulers", {}, [], id="list with no filters"),
    pytest.param("ListInferenceSchedulers", {"MaxResults": 1}, [], id="list MaxResults at min"),
    pytest.param("ListInferenceSchedulers", {"MaxResults": 500}, [], id="list MaxResults at max"),
    pytest.param(
        "ListInferenceSchedulers",
        {"MaxResults": 0},
        [("MaxResults", "Must be between 1 and 500, not 0.")],
        id="list MaxResults below min",
    ),
    pytest.param(
        "ListInferenceSchedulers",
        {"MaxResults": 501},
        [("MaxResults", "Must be between 1 and 500, not 501.")],
        id="list MaxResults above max",
    ),
    pytest.param("ListInferenceSchedulers", {"Status": "RUNNING"}, [], id="list Status in enum"),
    pytest.param(
        "ListInferenceSchedulers",
        {"Status": "running"},
        [("Status", "Must be one of: PENDING, RUNNING, STOPPING, STOPPED.")],
        id="list Status not in enum",
    ),
    pytest.param(
        "DescribeInferenceScheduler",
        {"InferenceSchedulerName": "pump-scheduler"},
        [],
        id="describe with a name",
    ),
    pytest.param(
        "DescribeInferenceScheduler",
        {},
        [("InferenceSchedulerName", "This member is required.")],
        id="describe without a name",
    ),
]


@pytest.mark.parametrize(("operation", "params", "expected"), OTHER_OPERATIONS)
def test_other_operation_is_validated_against_its_own_input(
    operation: str, params: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    errors = validate_request(operation, params)
    assert [(error.path, error.message) for error in errors] == expected
