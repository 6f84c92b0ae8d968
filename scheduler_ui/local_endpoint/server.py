"""The local endpoint on the wire: AWS JSON 1.0 over HTTP/1.1.

A call is `POST /` with `X-Amz-Target: AWSLookoutEquipmentFrontendService.<Operation>`
and a JSON body; the answer is JSON, or an error `{"__type": ..., "message": ...}`
with the HTTP status AWS uses, which botocore turns into the modelled exception.
Signatures are not checked: any credentials will do.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from scheduler_ui.local_endpoint.backend import Backend, Clock, EndpointConfig, ServiceError
from scheduler_ui.lookout.service import TARGET_PREFIX, operation_names

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/x-amz-json-1.0"
MAX_BODY_BYTES = 1024 * 1024
# Bodies up to this size are read and thrown away before answering "too large",
# so the client, still sending, gets the answer rather than a reset connection.
_MAX_DRAINED_BYTES = 16 * 1024 * 1024

HTTP_STATUS = {
    "ValidationException": 400,
    "ThrottlingException": 400,
    "ServiceQuotaExceededException": 400,
    "SerializationException": 400,
    "UnknownOperationException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ConflictException": 409,
    "RequestEntityTooLargeException": 413,
    "InternalServerException": 500,
}

_MODELLED_OPERATIONS = frozenset(operation_names())


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Don't wait for handler threads on close: idle keep-alive connections
    # would hold stop() up. They are shut down instead (close_connections).
    block_on_close = False
    # Many workers connect at once; the default backlog of 5 drops connections.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], backend: Backend, verbose: bool) -> None:
        self.backend = backend
        self.verbose = verbose
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut every open connection, so a stopped endpoint answers nothing more."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already gone
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up mid-call are routine (chaos tests kill them):
        # no traceback on stderr unless asked for.
        if self.verbose:
            logger.exception("Error while serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: boto3 reuses connections
    server_version = "LocalLookoutEquipment/1.0"
    # An idle or stalled connection is closed after this many seconds.
    timeout = 120
    # Headers and body go out in two writes: with Nagle's algorithm the second
    # waits for the client's delayed ACK, some 40 ms per call.
    disable_nagle_algorithm = True

    @property
    def _server(self) -> _Server:
        server = self.server
        assert isinstance(server, _Server)
        return server

    def log_message(self, format: str, *args: Any) -> None:
        if self._server.verbose:
            logger.info("%s %s", self.address_string(), format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self._server.verbose:
            # No headers when the request line itself could not be read.
            headers = getattr(self, "headers", None) or {}
            operation = headers.get("X-Amz-Target", "").rpartition(".")[2]
            logger.info("%s %s %s", self.command, operation or getattr(self, "path", ""), code)

    def do_GET(self) -> None:
        """A liveness answer, handy for scripts waiting for the endpoint to come up."""
        self._send(200, {"service": "lookoutequipment", "status": "ok"})

    def do_POST(self) -> None:
        try:
            body = self._read_body()
        except OSError:
            # The client hung up or stalled mid-body (killed workers do): there
            # is nobody to answer.
            self.close_connection = True
            return
        if isinstance(body, tuple):
            status, payload = body
        else:
            try:
                status, payload = self._answer(body)
            except Exception:
                logger.exception("Error answering %s", self.headers.get("X-Amz-Target"))
                status, payload = _error("InternalServerException", "Unexpected error.")
        self._send(status, payload, error_code=payload.get("__type"))

    def _answer(self, body: bytes) -> tuple[int, dict[str, Any]]:
        target = self.headers.get("X-Amz-Target", "")
        prefix, _, operation = target.partition(".")
        if prefix != TARGET_PREFIX or operation not in _MODELLED_OPERATIONS:
            return _error("UnknownOperationException", f"Unknown operation {target!r}.")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != CONTENT_TYPE:
            return _error(
                "SerializationException",
                f"Content-Type must be {CONTENT_TYPE}, not {content_type or 'missing'}.",
            )
        try:
            params = json.loads(body) if body.strip() else {}
        # ValueError: not UTF-8, not JSON, or a number too long to convert;
        # RecursionError: nested deeper than the parser goes.
        except (ValueError, RecursionError) as error:
            return _error("SerializationException", f"The body is not valid JSON: {error}.")
        if not isinstance(params, dict):
            return _error("SerializationException", "The body must be a JSON object.")
        try:
            return 200, self._server.backend.invoke(operation, params)
        except ServiceError as error:
            return _error(error.code, error.message)

    def _read_body(self) -> bytes | tuple[int, dict[str, Any]]:
        """The request body, or the error to answer (the connection then closes
        when its framing cannot be trusted). OSError when the client is gone."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return _error("SerializationException", "Chunked bodies are not supported.")
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            return _error("SerializationException", "Invalid Content-Length.")
        if length > MAX_BODY_BYTES:
            if length <= _MAX_DRAINED_BYTES:
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
            self.close_connection = True
            return _error(
                "RequestEntityTooLargeException",
                f"The request body is {length} bytes; at most {MAX_BODY_BYTES} are accepted.",
            )
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionError("the client closed the connection mid-body")
        return body

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """HTTP that is no service call at all (a malformed request line or header,
        an unsupported method) is answered like any other error, not with
        http.server's HTML page, and the connection is closed."""
        # A request line too broken to name its HTTP version still gets a status line.
        self.request_version = self.protocol_version
        self.close_connection = True
        _, payload = _error("SerializationException", message or "Malformed request.")
        # The client's mistake (an unknown method or HTTP version) is a 4xx, as
        # AWS answers it: SDKs would retry a 5xx.
        self._send(code if code < 500 else 400, payload, error_code=payload["__type"])

    def _send(self, status: int, payload: dict[str, Any], error_code: str | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_code:
            self.send_header("x-amzn-ErrorType", error_code)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _error(code: str, message: str) -> tuple[int, dict[str, Any]]:
    # "Message" too: the modelled exceptions name their member so, and botocore
    # reads either.
    return HTTP_STATUS.get(code, 400), {"__type": code, "message": message, "Message": message}


class LocalEndpoint:
    """The local endpoint, bound on creation (port 0 picks a free port).

    `start()` serves in a background thread (tests, `with LocalEndpoint(...)`);
    `serve_forever()` serves in the calling thread (the management command).
    """

    def __init__(
        self,
        config: EndpointConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = time.time,
        sleep: Callable[[float], None] = time.sleep,
        verbose: bool = False,
    ) -> None:
        self.backend = Backend(config, clock=clock, sleep=sleep)
        self._server = _Server((host, port), self.backend, verbose)
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._server.server_address[0])

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> LocalEndpoint:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how long stop() may wait
            name=f"lookout-endpoint-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve until interrupted (KeyboardInterrupt), then release the port."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._close()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._close()

    def _close(self) -> None:
        self._server.close_connections()
        self._server.server_close()

    def __enter__(self) -> LocalEndpoint:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
