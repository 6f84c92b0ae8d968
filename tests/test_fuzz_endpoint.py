"""The local endpoint driven with random and hostile requests over real HTTP:
every answer is the service's (a result or an AWS-shaped error), never a 500,
a crash or a hang."""

from __future__ import annotations

import http.client
import io
import json
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler_ui.local_endpoint.server import CONTENT_TYPE, MAX_BODY_BYTES
from scheduler_ui.lookout.service import TARGET_PREFIX, operation_input, operation_names, shape

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Any call that takes longer than this has hung.
TIMEOUT = 10

OPERATIONS = operation_names()


class Answer:
    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.status = response.status
        self.headers = response.headers
        self.body = response.read()

    @property
    def payload(self) -> Any:
        return json.loads(self.body)

    @property
    def error(self) -> str:
        return str(self.payload["__type"])


def call(
    endpoint: Any,
    body: bytes,
    target: str = f"{TARGET_PREFIX}.ListModels",
    content_type: str = CONTENT_TYPE,
) -> Answer:
    connection = http.client.HTTPConnection(endpoint.host, endpoint.port, timeout=TIMEOUT)
    try:
        connection.request(
            "POST", "/", body, {"X-Amz-Target": target, "Content-Type": content_type}
        )
        return Answer(connection.getresponse())
    finally:
        connection.close()


def assert_service_answer(answer: Answer) -> None:
    """A result, or an error as AWS shapes it: JSON with __type and message."""
    assert answer.status < 500, answer.body[:500]
    assert answer.headers["Content-Type"] == CONTENT_TYPE
    payload = answer.payload
    assert isinstance(payload, dict)
    if answer.status != 200:
        assert isinstance(payload["__type"], str)
        assert isinstance(payload["message"], str)
        assert answer.headers["x-amzn-ErrorType"] == payload["__type"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text()
    | st.sampled_from(["", "\x00", "\u202e", "<script>", "x" * 10_000]),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """An operation and junk under its own member names (so validation goes deep)
    and under made-up ones."""
    operation = draw(st.sampled_from(OPERATIONS))
    members = list(shape(operation_input(operation)).get("members", {}))
    names = st.sampled_from(members) | st.text(max_size=20) if members else st.text(max_size=20)
    return operation, draw(st.dictionaries(names, json_values, max_size=8))


@FUZZ
@given(request=requests())
def test_random_json_for_any_operation_gets_a_service_answer(lookout_endpoint, request):
    operation, params = request

    answer = call(lookout_endpoint, json.dumps(params).encode(), f"{TARGET_PREFIX}.{operation}")

    assert_service_answer(answer)


@FUZZ
@given(body=st.binary(max_size=2000))
def test_random_bytes_get_a_service_answer(lookout_endpoint, body):
    answer = call(lookout_endpoint, body, f"{TARGET_PREFIX}.CreateInferenceScheduler")

    assert_service_answer(answer)


@FUZZ
@given(body=json_values.filter(lambda value: not isinstance(value, dict)))
def test_a_body_that_is_not_an_object_is_a_serialization_error(lookout_endpoint, body):
    answer = call(lookout_endpoint, json.dumps(body).encode())

    assert answer.status == 400
    assert answer.error == "SerializationException"


header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF).filter(str.isprintable))


@FUZZ
@given(target=header_text)
def test_an_unknown_target_is_an_unknown_operation(lookout_endpoint, target):
    if target.partition(".")[::2] in {(TARGET_PREFIX, name) for name in OPERATIONS}:
        return

    answer = call(lookout_endpoint, b"{}", target.strip())

    assert_service_answer(answer)
    assert answer.error == "UnknownOperationException"


@FUZZ
@given(content_type=header_text)
def test_a_wrong_content_type_is_a_serialization_error(lookout_endpoint, content_type):
    if content_type.split(";")[0].strip().lower() == CONTENT_TYPE:
        return

    answer = call(lookout_endpoint, b"{}", content_type=content_type.strip())

    assert_service_answer(answer)
    assert answer.error == "SerializationException"


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"Tags": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
        b'{"MaxResults": ' + b"9" * 5000 + b"}",
        b'{"ModelName": "\xff\xfe"}',
        b"\xff\xfe{\x00}\x00",
        b'{"ModelName": "\\ud800"}',
        b'{"MaxResults": NaN}',
        b'{"ModelName": "a", "ModelName": "b"}',
        b"{" * 10 + b"oops",
    ],
    ids=[
        "deeply nested lists",
        "deeply nested objects",
        "a number too long to read",
        "invalid UTF-8",
        "UTF-16 garbage",
        "a lone surrogate",
        "NaN",
        "a repeated member",
        "truncated",
    ],
)
def test_hostile_json_gets_a_service_answer(lookout_endpoint, body):
    answer = call(lookout_endpoint, body, f"{TARGET_PREFIX}.ListInferenceSchedulers")

    assert_service_answer(answer)


def test_a_megabyte_string_within_the_size_limit_is_a_validation_error(lookout_endpoint):
    body = json.dumps({"ModelName": "m" * (MAX_BODY_BYTES - 100)}).encode()

    answer = call(lookout_endpoint, body, f"{TARGET_PREFIX}.DescribeModel")

    assert answer.status == 400
    assert answer.error == "ValidationException"


def test_a_body_over_the_size_limit_is_refused_as_too_large(lookout_endpoint):
    body = json.dumps({"ModelName": "m" * MAX_BODY_BYTES}).encode()

    answer = call(lookout_endpoint, body, f"{TARGET_PREFIX}.DescribeModel")

    assert answer.status == 413
    assert answer.error == "RequestEntityTooLargeException"


# --- Broken HTTP --------------------------------------------------------------------------


def raw_request(content_length: int, body: bytes, target: str = "ListModels") -> bytes:
    return (
        f"POST / HTTP/1.1\r\nHost: localhost\r\nX-Amz-Target: {TARGET_PREFIX}.{target}\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {content_length}\r\n\r\n"
    ).encode() + body


def connect(endpoint: Any) -> socket.socket:
    return socket.create_connection((endpoint.host, endpoint.port), timeout=TIMEOUT)


def test_a_client_stalled_mid_body_does_not_hold_up_others(lookout_endpoint):
    with connect(lookout_endpoint) as stalled:
        stalled.sendall(raw_request(100, b'{"Max'))

        answer = call(lookout_endpoint, b"{}")

    assert answer.status == 200


def test_a_client_that_hangs_up_mid_body_leaves_the_endpoint_serving(lookout_endpoint):
    with connect(lookout_endpoint) as leaving:
        leaving.sendall(raw_request(100, b'{"Max'))
        leaving.shutdown(socket.SHUT_WR)
        assert leaving.recv(1024) == b""  # nobody to answer: the endpoint just hangs up

    assert call(lookout_endpoint, b"{}").status == 200


def test_a_content_length_shorter_than_the_body_gets_service_answers(lookout_endpoint):
    with connect(lookout_endpoint) as liar:
        liar.sendall(raw_request(5, b'{"MaxResults": 1}'))
        liar.shutdown(socket.SHUT_WR)
        answers = read_all(liar)

    # The first five bytes are a truncated body; the rest is not HTTP at all.
    assert [a.status for a in answers] == [400, 400]
    for answer in answers:
        assert_service_answer(answer)


@pytest.mark.parametrize("length", ["-1", "ten", "1e3", " "])
def test_a_content_length_that_is_not_a_length_gets_a_service_answer(lookout_endpoint, length):
    with connect(lookout_endpoint) as liar:
        liar.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
        [answer] = read_all(liar)

    assert_service_answer(answer)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GARBAGE\r\n\r\n",
        b"PUT / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\n" + b"X-Junk: x\r\n" * 200 + b"\r\n",
    ],
    ids=[
        "not HTTP",
        "an unsupported method",
        "an unknown HTTP version",
        "a chunked body",
        "too many headers",
    ],
)
def test_malformed_http_gets_a_service_answer(lookout_endpoint, request_bytes):
    with connect(lookout_endpoint) as client:
        client.sendall(request_bytes)
        [answer] = read_all(client)

    assert_service_answer(answer)


def read_all(client: socket.socket) -> list[Answer]:
    """Every answer the endpoint sends on a connection until it closes it."""
    received = b"".join(iter(lambda: client.recv(65536), b""))
    stream = _Unclosable(received)
    answers = []
    while stream.tell() < len(received):
        response = http.client.HTTPResponse(_Connection(stream))  # type: ignore[arg-type]
        response.begin()
        answers.append(Answer(response))
    return answers


class _Unclosable(io.BytesIO):
    def close(self) -> None:
        """http.client closes what it read an answer from; more answers may follow."""


class _Connection:
    """What http.client.HTTPResponse reads from."""

    def __init__(self, stream: io.BytesIO) -> None:
        self.stream = stream

    def makefile(self, *args: Any, **kwargs: Any) -> io.BytesIO:
        return self.stream
