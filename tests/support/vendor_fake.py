"""A small real server that speaks the vendor's partner API (Partner Center) for subscriptions.

Like the onboarding fakes (:mod:`tests.support.onboarding_fakes`), it runs on a free local port
in a thread, records every request it receives (failed ones too), and can be told to misbehave
for the next requests.

    GET   /v1/customers/{tenant}/subscriptions/{id}  → 200 {"id", "status", "etag", ...} + ETag
    PATCH /v1/customers/{tenant}/subscriptions/{id}  {"status": "suspended" | "active"}
          MS-RequestId required; If-Match required (428 without, 412 when stale)

A PATCH whose ``MS-RequestId`` it has already carried out answers the remembered result and
changes nothing (the same id with another body is a 409); only successes are remembered, so a
request refused for a stale ETag can be retried under the same id. ``changes`` lists the status
changes actually made.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from partnerguard.cli.embedded import free_port
from tests.support.onboarding_fakes import ReceivedRequest

_PATH = re.compile(r"^/v1/customers/(?P<tenant>[^/]+)/subscriptions/(?P<subscription>[^/]+)$")
_STATUSES = frozenset({"active", "suspended"})


@dataclass(frozen=True)
class VendorChange:
    """A status change the fake vendor actually made."""

    customer_tenant_id: str
    subscription_id: str
    status: str
    request_id: str | None  # None: made "in the vendor's portal" by the test
    # When it was made (time.monotonic), for latency measured in the same process.
    at: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class _Misbehaviour:
    # An error status to answer instead of processing the request.
    status: int | None = None
    # Seconds to wait before processing (a hang: nothing is changed if the client gives up).
    delay_before: float = 0.0
    # Seconds to wait after processing, before answering (a late answer: the change is made).
    delay_after: float = 0.0


@dataclass
class _Subscription:
    status: str
    version: int = 1

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@dataclass(frozen=True)
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class FakePartnerCenter:
    """The vendor's subscriptions: status and ETag per (customer tenant, subscription)."""

    def __init__(self, port: int | None = None, *, token: str | None = None) -> None:
        self.port = port or free_port()
        self.token = token
        self.requests: list[ReceivedRequest] = []
        self.changes: list[VendorChange] = []
        self._subscriptions: dict[tuple[str, str], _Subscription] = {}
        self._carried_out: dict[str, tuple[Any, _Answer]] = {}
        self._misbehaviours: deque[_Misbehaviour] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._answering = threading.Event()
        self._answering.set()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what the test tells it ------------------------------------------------------------

    def add_subscription(
        self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID, status: str = "active"
    ) -> str:
        """A subscription the vendor has; its ETag."""
        with self._lock:
            record = _Subscription(status)
            self._subscriptions[(str(customer_tenant_id), str(subscription_id))] = record
            return record.etag

    def change_in_portal(
        self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID, status: str
    ) -> str:
        """Someone changes the subscription at the vendor, not through us; the new ETag."""
        with self._lock:
            record = self._subscriptions[(str(customer_tenant_id), str(subscription_id))]
            record.status = status
            record.version += 1
            self.changes.append(
                VendorChange(str(customer_tenant_id), str(subscription_id), status, None)
            )
            return record.etag

    def touch(self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> str:
        """Another edit of the resource (status unchanged): any ETag read before is stale."""
        with self._lock:
            record = self._subscriptions[(str(customer_tenant_id), str(subscription_id))]
            record.version += 1
            return record.etag

    def status_of(self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> str:
        with self._lock:
            return self._subscriptions[(str(customer_tenant_id), str(subscription_id))].status

    def etag_of(self, customer_tenant_id: uuid.UUID, subscription_id: uuid.UUID) -> str:
        with self._lock:
            return self._subscriptions[(str(customer_tenant_id), str(subscription_id))].etag

    def fail_next(self, count: int = 1, status: int = 503) -> None:
        """Answer the next ``count`` requests with ``status`` without processing them."""
        with self._lock:
            self._misbehaviours.extend([_Misbehaviour(status=status)] * count)

    def script(self, *statuses: int | None) -> None:
        """Answer the next requests in turn: an error status, or None to process one normally."""
        with self._lock:
            self._misbehaviours.extend(_Misbehaviour(status=status) for status in statuses)

    def hang_next(self, count: int = 1, seconds: float = 2.0) -> None:
        """Hold the next ``count`` requests ``seconds`` before processing them (a client that
        times out first leaves nothing changed)."""
        with self._lock:
            self._misbehaviours.extend([_Misbehaviour(delay_before=seconds)] * count)

    def answer_late(self, count: int = 1, seconds: float = 2.0) -> None:
        """Process the next ``count`` requests at once but answer ``seconds`` later (a client
        that times out first does not learn the change was made)."""
        with self._lock:
            self._misbehaviours.extend([_Misbehaviour(delay_after=seconds)] * count)

    def pause_answers(self) -> None:
        """Process requests as they come but hold every answer back until :meth:`resume_answers`
        (a change in flight, for as long as the test needs)."""
        self._answering.clear()

    def resume_answers(self) -> None:
        self._answering.set()

    def received(self, method: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if method is None or r.method == method]

    def wait_for(self, count: int, method: str | None = None, timeout: float = 10.0) -> bool:
        """Block until ``count`` requests (of ``method``) have arrived; False on timeout. Call
        it through ``asyncio.to_thread`` from a test's event loop."""
        with self._arrived:
            return self._arrived.wait_for(
                lambda: sum(method is None or r.method == method for r in self.requests) >= count,
                timeout,
            )

    def changes_of(self, subscription_id: uuid.UUID) -> list[VendorChange]:
        with self._lock:
            return [c for c in self.changes if c.subscription_id == str(subscription_id)]

    # -- the protocol ----------------------------------------------------------------------

    def _process(self, request: ReceivedRequest) -> _Answer:
        if self.token is not None and request.header("Authorization") != f"Bearer {self.token}":
            return _Answer(401, {"description": "missing or wrong bearer token"}, {})
        match = _PATH.match(request.path)
        if match is None:
            return _Answer(404, {"description": "no such resource"}, {})
        key = (match["tenant"], match["subscription"])
        with self._lock:
            record = self._subscriptions.get(key)
            if record is None:
                return _Answer(404, {"description": "subscription not found"}, {})
            if request.method == "GET":
                return self._representation(key, record)
            if request.method != "PATCH":
                return _Answer(405, {"description": "method not allowed"}, {})
            return self._patch(key, record, request)

    def _patch(
        self, key: tuple[str, str], record: _Subscription, request: ReceivedRequest
    ) -> _Answer:
        body = request.body
        if not isinstance(body, dict) or body.get("status") not in _STATUSES:
            return _Answer(400, {"description": "status must be suspended or active"}, {})
        request_id = request.header("MS-RequestId")
        if not request_id:
            return _Answer(400, {"description": "MS-RequestId is required"}, {})
        remembered = self._carried_out.get(request_id)
        if remembered is not None:
            earlier_body, answer = remembered
            if earlier_body != body:
                return _Answer(409, {"description": "request id reused for another change"}, {})
            return answer
        if_match = request.header("If-Match")
        if if_match is None:
            return _Answer(428, {"description": "If-Match is required"}, {})
        if if_match != record.etag:
            return _Answer(412, {"description": "the resource has changed"}, {})
        if record.status != body["status"]:
            record.status = body["status"]
            record.version += 1
            self.changes.append(VendorChange(key[0], key[1], record.status, request_id))
        answer = self._representation(key, record)
        self._carried_out[request_id] = (body, answer)
        return answer

    @staticmethod
    def _representation(key: tuple[str, str], record: _Subscription) -> _Answer:
        body = {
            "id": key[1],
            "customerId": key[0],
            "status": record.status,
            "etag": record.etag,
            "offerName": "Fake offer",
        }
        return _Answer(200, body, {"ETag": record.etag})

    # -- the server ------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as the vendor's API: a client's pooled connections are reused. Headers
            # and body are written separately: without TCP_NODELAY the body would wait for the
            # client's delayed ACK (40 ms) on every answer.
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                fake._handle(self)

            def do_PATCH(self) -> None:  # noqa: N802
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
        self._answering.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        payload = handler.rfile.read(length) if length else b""
        try:
            body = json.loads(payload) if payload else None
        except ValueError:
            body = None
        url = urlsplit(handler.path)
        request = ReceivedRequest(
            method=handler.command,
            path=url.path,
            query=parse_qs(url.query),
            headers=dict(handler.headers.items()),
            body=body,
        )
        with self._lock:
            self.requests.append(request)
            self._arrived.notify_all()
            misbehaviour = self._misbehaviours.popleft() if self._misbehaviours else None
        if misbehaviour is not None and misbehaviour.delay_before:
            if self._stopping.wait(misbehaviour.delay_before):
                return
        if misbehaviour is not None and misbehaviour.status is not None:
            answer = _Answer(misbehaviour.status, {"description": "told to fail"}, {})
        else:
            answer = self._process(request)
        if misbehaviour is not None and misbehaviour.delay_after:
            if self._stopping.wait(misbehaviour.delay_after):
                return
        while not self._answering.wait(0.05):
            if self._stopping.is_set():
                return
        data = json.dumps(answer.body).encode()
        try:
            handler.send_response(answer.status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test): nothing to answer
