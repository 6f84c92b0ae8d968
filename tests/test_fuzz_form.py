"""The create form driven with random and hostile values: it never answers
with a 500, and it accepts exactly the requests the validator accepts."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler_ui import lookout
from scheduler_ui.schedulers.forms import MEMBER_PATHS, CreateSchedulerForm, SchedulerForm
from tests.factories import ROLE_ARN, form_post, make_submission
from tests.pages import CONSOLE_PAGES, console_url

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

MEGABYTE = "x" * 1024 * 1024
HOSTILE = [
    "\x00",
    "pump\x00model",
    "\x01\x1b[31m\x7f",
    "\r\n",
    " ",
    "\u202e\u200b\ufeff",
    "\U0001d518\U0001d52b\U0001d526 ünïcödé",  # Fraktur letters, then Latin ones
    "<script>alert(1)</script>",
    "aws:secret",
    "-1",
    "1e3",
    "5.0",
    " 7 ",
    "١٢",  # Arabic-Indic digits: int() reads them
    "1_0",
    "9" * 30,
    "9" * 5000,
    "+05:17",
    "EPOCH and more",
    "arn:aws:iam::123456789012:role/x\n",
    MEGABYTE,
]
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=40),
    st.text(st.characters(max_codepoint=0x1F), max_size=5),
    st.integers(-(10**12), 10**12).map(str),
)

# Values the service takes, so that most examples are close to valid and the
# hostile ones decide the verdict. "" leaves an optional member out.
GOOD = {
    "inference_scheduler_name": ["pump-scheduler", "a", "x" * 200],
    "model_name": ["pump-model"],
    "data_upload_frequency": ["PT5M", "PT1H"],
    "data_delay_offset_in_minutes": ["", "0", "60"],
    "input_bucket": ["", "lookout-input"],
    "input_prefix": ["", "sensors/pump/"],
    "input_time_zone_offset": ["", "+05:30"],
    "timestamp_format": ["", "EPOCH"],
    "component_timestamp_delimiter": ["", "_", " "],
    "output_bucket": ["lookout-output"],
    "output_prefix": ["", "results/"],
    "output_kms_key_id": ["", "alias/lookout-output"],
    "role_arn": [ROLE_ARN],
    "server_side_kms_key_id": ["", "arn:aws:kms:us-east-1:123456789012:key/1"],
    "client_token": ["", "token-1"],
}
assert set(GOOD) == set(MEMBER_PATHS)
# Values the service takes but the form's selects do not offer.
NOT_OFFERED = {
    "input_time_zone_offset": ["+05:17", "-00:00"],
    "timestamp_format": ["EPOCH and more", "at yyyy-MM-dd-HH-mm-ss"],
    "component_timestamp_delimiter": ["\t", "\n"],
}
TAG_KEYS = ["", "team", "aws:team", "<svg/onload=alert", "a" * 128]
TAG_VALUES = ["", "reliability", "<script>alert(1)</script>", "v" * 257]


@st.composite
def submissions(draw: st.DrawFn) -> dict[str, str]:
    """A well-formed POST of the form (its management form consistent), good
    values in most fields and hostile ones in a few, and up to four tag rows."""
    spoiled = draw(st.sets(st.sampled_from(sorted(GOOD)), max_size=3))
    data = {
        field: draw(
            (hostile_text | st.sampled_from(NOT_OFFERED.get(field, HOSTILE)))
            if field in spoiled
            else st.sampled_from(good)
        )
        for field, good in GOOD.items()
    }
    rows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(TAG_KEYS) | hostile_text,
                st.sampled_from(TAG_VALUES) | hostile_text,
                st.booleans(),
            ),
            max_size=4,
        )
    )
    data.update({"tags-TOTAL_FORMS": str(len(rows)), "tags-INITIAL_FORMS": "0"})
    for index, (key, value, delete) in enumerate(rows):
        data.update({f"tags-{index}-key": key, f"tags-{index}-value": value})
        if delete:
            data[f"tags-{index}-DELETE"] = "on"
    return data


# --- The verdict: the form says yes exactly when the validator does ----------------------


def request_the_form_would_send(data: dict[str, str]) -> dict[str, Any]:
    """The CreateInferenceScheduler request built from the raw POST as the form
    builds it: each field into its member (MEMBER_PATHS), empty ones left out,
    the delay read as a whole number, a ClientToken generated when left empty
    (any UUID is a valid one), and the kept tag rows as Tags."""
    request: dict[str, Any] = {}
    for field, path in MEMBER_PATHS.items():
        value: Any = data.get(field, "")
        if field == "data_delay_offset_in_minutes":
            value = as_whole_number(value)
        if value not in ("", None):
            *parents, last = path.split(".")
            node = request
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
    request.setdefault("DataInputConfiguration", {})
    request.setdefault("ClientToken", "00000000-0000-4000-8000-000000000000")
    tags = [{"Key": key, "Value": value} for key, value, _ in kept_tags(data)]
    if tags:
        request["Tags"] = tags
    return request


def as_whole_number(raw: str) -> Any:
    """What an integer field makes of the text; text it cannot read stays text,
    which the validator refuses as the wrong type."""
    try:
        return forms.IntegerField(required=False).clean(raw)
    except ValidationError:
        return raw


def tag_rows(data: dict[str, str]) -> list[tuple[str, str, bool]]:
    return [
        (
            data.get(f"tags-{i}-key", ""),
            data.get(f"tags-{i}-value", ""),
            f"tags-{i}-DELETE" in data,
        )
        for i in range(int(data["tags-TOTAL_FORMS"]))
    ]


def kept_tags(data: dict[str, str]) -> list[tuple[str, str, bool]]:
    return [row for row in tag_rows(data) if row[0] and not row[2]]


def form_only_rules_pass(data: dict[str, str]) -> bool:
    """What the form refuses on its own, beyond the service's rules:
    - a select takes only its options (the time zone offsets offered are the
      ones in use, not every +hh:mm the pattern allows);
    - no NUL character anywhere (PostgreSQL cannot store one);
    - a tag row with a value but no key is a mistake, not a tag to drop."""
    selects = {
        name: field
        for name, field in SchedulerForm().fields.items()
        if isinstance(field, forms.ChoiceField)
    }
    if not all(field.valid_value(data[name]) for name, field in selects.items()):
        return False
    texts = [data[name] for name in MEMBER_PATHS if name not in selects]
    live_rows = [row for row in tag_rows(data) if not row[2]]
    texts += [text for key, value, _ in live_rows for text in (key, value)]
    if any("\x00" in text for text in texts):
        return False
    return not any(value and not key for key, value, _ in live_rows)


@FUZZ
@given(data=submissions())
def test_the_form_accepts_exactly_what_the_validator_accepts(db, data):
    request = request_the_form_would_send(data)
    expected = form_only_rules_pass(data) and (
        lookout.validate_request("CreateInferenceScheduler", request) == []
    )

    form = CreateSchedulerForm(data)

    assert form.is_valid() == expected
    if expected:
        sent = form.to_request()
        if not data["client_token"]:
            sent = {**sent, "ClientToken": request["ClientToken"]}
        assert sent == request


def test_the_verdict_oracle_sees_both_answers():
    """The strategy makes valid and invalid submissions alike, so the test above
    checks both directions (not only that junk is refused)."""
    verdicts: set[bool] = set()

    @FUZZ
    @given(data=submissions())
    def collect(data: dict[str, str]) -> None:
        request = request_the_form_would_send(data)
        verdicts.add(lookout.validate_request("CreateInferenceScheduler", request) == [])

    collect()

    assert verdicts == {True, False}


# --- Never a 500 --------------------------------------------------------------------------

FIELD_NAMES = [
    *GOOD,
    "tags-TOTAL_FORMS",
    "tags-INITIAL_FORMS",
    "tags-MIN_NUM_FORMS",
    "tags-MAX_NUM_FORMS",
    *(f"tags-{i}-{part}" for i in (0, 1, 199, 200) for part in ("key", "value", "DELETE")),
    "add_tag",
]
FORM_COUNTS = ["", "-1", "0", "1", "200", "201", "1000000", "9" * 30, "9" * 5000, "x", "\x00"]


@st.composite
def hostile_posts(draw: st.DrawFn) -> dict[str, Any]:
    """Anything at all: missing or lying management forms, unknown fields, huge
    counts, hostile values, with or without "Add a tag"."""
    data = draw(
        st.dictionaries(
            st.sampled_from(FIELD_NAMES) | st.text(max_size=10),
            hostile_text | st.lists(hostile_text, max_size=3),  # a field sent 0 to 3 times
            max_size=12,
        )
    )
    if draw(st.booleans()):
        data["tags-TOTAL_FORMS"] = draw(st.sampled_from(FORM_COUNTS))
        data["tags-INITIAL_FORMS"] = draw(st.sampled_from(FORM_COUNTS))
    return data


# Each example is a whole request through Django: fewer of them, to stay quick.
FUZZ_HTTP = settings(FUZZ, max_examples=100)


@FUZZ_HTTP
@given(name=st.sampled_from(["submission_new", "submission_preview"]), data=hostile_posts())
def test_no_post_to_the_form_or_its_preview_is_a_server_error(operator_client, name, data):
    response = operator_client.post(reverse(name), data)

    assert response.status_code in (200, 302, 400)


@pytest.mark.parametrize("count", FORM_COUNTS)
def test_adding_a_tag_to_a_form_with_any_tag_count_is_no_server_error(operator_client, count):
    data = {**form_post(), "tags-TOTAL_FORMS": count, "add_tag": "1"}

    response = operator_client.post(reverse("submission_new"), data)

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b"inference_scheduler_name=\xff\xfe&tags-TOTAL_FORMS=\xc0\x80",
            "application/x-www-form-urlencoded",
        ),
        (b'{"inference_scheduler_name": "pump"}', "application/json"),
        (
            b'--x\r\nContent-Disposition: form-data; name="model_name"; filename="a"\r\n'
            b"\r\nb\r\n--x--\r\n",
            "multipart/form-data; boundary=x",
        ),
        (b"--x\r\ngarbage", "multipart/form-data; boundary=x"),
        (b"\x00" * 100, "text/plain"),
    ],
    ids=["not UTF-8", "JSON", "a file instead of a field", "broken multipart", "not a form"],
)
@pytest.mark.parametrize("name", ["submission_new", "submission_preview"])
def test_a_body_that_is_no_form_is_no_server_error(operator_client, name, body, content_type):
    response = operator_client.generic("POST", reverse(name), body, content_type=content_type)

    assert response.status_code in (200, 400)


def test_a_post_over_the_upload_limit_is_refused_not_crashed(operator_client, settings):
    data = form_post(inference_scheduler_name="x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1))

    response = operator_client.post(
        reverse("submission_new"), urlencode(data), "application/x-www-form-urlencoded"
    )

    assert response.status_code == 400


GET_PAGES = [name for name in CONSOLE_PAGES if name not in ("logout", "submission_preview")]
QUERY_NAMES = ["from", "q", "user", "scheduler", "kind", "state", "before", "after", "page", "next"]


@pytest.fixture
def pages(make_role_user, client):
    """A superuser's client and every page it can GET, about one submission."""
    client.force_login(make_role_user("superuser", "root"))
    submission = make_submission()
    return client, [console_url(name, submission) for name in GET_PAGES]


@FUZZ_HTTP
@given(
    page=st.integers(0, len(GET_PAGES) - 1),
    query=st.dictionaries(st.sampled_from(QUERY_NAMES), hostile_text, max_size=4),
)
def test_no_query_string_makes_any_page_a_server_error(pages, page, query):
    client, urls = pages

    response = client.get(urls[page], query)

    assert response.status_code < 500
