"""Small real servers that speak the onboarding service's providers' protocols, for tests.

Each runs on a free local port, started and stopped explicitly (or used as a context manager),
and records what it received. The HTTP ones share :class:`FakeProvider`: they can be told to
fail or to hang for the next requests, and ``reset()`` clears records and rules, so one server
can serve a whole module or session of tests.

- :class:`FakeSmsGateway`: ``POST /sms`` with ``{"from", "to", "text"}``.
- :class:`FakeIdentityService`: ``POST /v1/identity-checks``.
- :class:`FakeCreditBureau`: ``POST /v1/business-reports``.
- :class:`FakeYente`: ``POST /match/{dataset}`` as OpenSanctions yente answers it.
- :class:`FakeSmtpServer`: an SMTP server (aiosmtpd), optionally with a login.

:func:`captured_logs` collects the structlog events the adapters log, at every level.
"""

from __future__ import annotations

import email.policy
import json
import logging
import re
import sys
import threading
from collections import deque
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from structlog._config import BoundLoggerLazyProxy

from partnerguard.cli.embedded import free_port

CODE = re.compile(r"\b(\d{4,10})\b")


@contextmanager
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """The structlog events logged while active, at every level, as dicts.

    Whatever the session configured before (a service app sets WARNING and caches loggers on
    first use), inside it loggers log everything and are not cached, and the configuration is
    restored afterwards. Use it around a whole test (an autouse fixture), so a module's logger
    is never first used, and cached, with another test's configuration.
    """
    previous = structlog.get_config()
    _uncache_module_loggers()
    capture = structlog.testing.LogCapture()
    structlog.configure(
        processors=[capture],
        wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG),
        cache_logger_on_first_use=False,
    )
    try:
        yield capture.entries
    finally:
        structlog.configure(**previous)


def _uncache_module_loggers() -> None:
    """Make module-level loggers lazy again: one first used by an earlier test (say a shared
    module of ``partnerguard.common`` used by another service's tests) keeps the processors it
    cached then, and would log past the capture."""
    for module in list(sys.modules.values()):
        if not (getattr(module, "__name__", "") or "").startswith("partnerguard."):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, BoundLoggerLazyProxy):
                # A cached proxy has swapped its ``bind`` for a finalized one on the instance.
                value.__dict__.pop("bind", None)


def _last_code(texts: list[str]) -> str | None:
    """The digits of the code in the last of ``texts`` that holds one."""
    for text in reversed(texts):
        found = CODE.search(text)
        if found:
            return found.group(1)
    return None


@dataclass(frozen=True)
class ReceivedRequest:
    """One HTTP request as a fake received it (every attempt, failed or not)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lowered), None)


@dataclass(frozen=True)
class Misbehaviour:
    """What to do instead of answering: an error status, or hanging for ``delay`` seconds."""

    status: int | None = None
    delay: float = 0.0
    retry_after: str | None = None


class FakeProvider:
    """A real local HTTP server; subclasses decide the answer in :meth:`answer`."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[ReceivedRequest] = []
        self._misbehaviours: deque[Misbehaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- what the test tells it ------------------------------------------------------------

    def fail_next(self, count: int = 1, status: int = 503, retry_after: str | None = None) -> None:
        """Answer the next ``count`` requests with ``status`` (and an empty JSON object)."""
        with self._lock:
            self._misbehaviours.extend(
                [Misbehaviour(status=status, retry_after=retry_after)] * count
            )

    def hang_next(self, count: int = 1, seconds: float = 2.0) -> None:
        """Hold the next ``count`` requests for ``seconds`` before answering normally."""
        with self._lock:
            self._misbehaviours.extend([Misbehaviour(delay=seconds)] * count)

    def reset(self) -> None:
        """Forget received requests and queued misbehaviour (subclasses also their rules)."""
        with self._lock:
            self.requests.clear()
            self._misbehaviours.clear()

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self.requests if path is None or r.path == path]

    # -- what subclasses implement ---------------------------------------------------------

    def answer(self, request: ReceivedRequest) -> tuple[int, Any]:
        """The status and JSON body for a well-behaved answer."""
        return 404, {"detail": "not found"}

    # -- the server ------------------------------------------------------------------------

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # A short poll interval keeps stop() (and so a fixture's teardown) quick.
        threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        ).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging handlers
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
            misbehaviour = self._misbehaviours.popleft() if self._misbehaviours else None
        headers: dict[str, str] = {}
        if misbehaviour is not None and misbehaviour.delay:
            if self._stopping.wait(misbehaviour.delay):
                return
        if misbehaviour is not None and misbehaviour.status is not None:
            status, answer = misbehaviour.status, {"error": "told to fail"}
            if misbehaviour.retry_after is not None:
                headers["Retry-After"] = misbehaviour.retry_after
        elif body is None and payload:
            status, answer = 400, {"detail": "body is not JSON"}
        else:
            status, answer = self.answer(request)
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a timeout test): nothing to answer


class FakeSmsGateway(FakeProvider):
    """Accepts ``{"from", "to", "text"}`` at :attr:`url`; ``messages`` holds the accepted ones."""

    path = "/sms"

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port)
        self.messages: list[dict[str, Any]] = []

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}"

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.messages.clear()

    def texts_to(self, phone: str) -> list[str]:
        with self._lock:
            return [str(m.get("text", "")) for m in self.messages if m.get("to") == phone]

    def last_code_for(self, phone: str) -> str | None:
        """The digits of the code in the last message sent to ``phone`` (None if none)."""
        return _last_code(self.texts_to(phone))

    def answer(self, request: ReceivedRequest) -> tuple[int, Any]:
        if request.path != self.path:
            return 404, {"detail": "not found"}
        body = request.body
        if not isinstance(body, dict) or not {"from", "to", "text"} <= body.keys():
            return 422, {"detail": "from, to and text are required"}
        with self._lock:
            self.messages.append(body)
            number = len(self.messages)
        return 202, {"id": f"sms_{number}", "status": "accepted"}


class FakeCheckProvider(FakeProvider):
    """A provider deciding per request: ``rules`` maps a registration number or a company name
    to a result (``"passed"``, ``"failed"``, ``"inconclusive"``, or anything else to test
    unknown verdicts); the rest get ``default``.
    """

    path = "/"
    result_key = "result"
    id_prefix = "chk"

    def __init__(self, port: int | None = None, default: str = "passed") -> None:
        super().__init__(port)
        self.default = default
        self.rules: dict[str, str] = {}
        self.extra: dict[str, Any] = {}  # merged into every answer

    def decide(self, key: str, result: str) -> None:
        with self._lock:
            self.rules[key] = result

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.rules.clear()
            self.extra.clear()

    def answer(self, request: ReceivedRequest) -> tuple[int, Any]:
        if request.path != self.path:
            return 404, {"detail": "not found"}
        body = request.body
        if not isinstance(body, dict) or not body.get("company_name"):
            return 422, {"detail": "company_name is required"}
        keys = [str(body[k]) for k in ("registration_number", "company_name") if body.get(k)]
        with self._lock:
            result = next((self.rules[k] for k in keys if k in self.rules), self.default)
            number = len(self.requests)
            extra = dict(self.extra)
        return 200, {"id": f"{self.id_prefix}_{number}", self.result_key: result, **extra}


class FakeIdentityService(FakeCheckProvider):
    """``POST /v1/identity-checks`` → ``{"id", "result", ...extra}``."""

    path = "/v1/identity-checks"
    result_key = "result"
    id_prefix = "idc"


class FakeCreditBureau(FakeCheckProvider):
    """``POST /v1/business-reports`` → ``{"id", "decision", "score", ...extra}``."""

    path = "/v1/business-reports"
    result_key = "decision"
    id_prefix = "rep"
    scores = {"passed": 82, "failed": 12}

    def answer(self, request: ReceivedRequest) -> tuple[int, Any]:
        status, body = super().answer(request)
        if status == 200:
            body.setdefault("score", self.scores.get(body[self.result_key], 50))
        return status, body


@dataclass(frozen=True)
class ListedEntity:
    """An entity on the fake's list, found when a query's name equals ``name`` (any case)."""

    name: str
    schema: str = "Company"  # or "Person"
    score: float = 0.95
    datasets: tuple[str, ...] = ("us_ofac_sdn",)
    # What yente would say for "match"; None: the score reaches the request's threshold.
    match: bool | None = None
    id: str = field(default="")


class FakeYente(FakeProvider):
    """``POST /match/{dataset}`` answering as yente does, from the entities in ``listed``.

    A query's results are the listed entities of the same schema whose name equals one of the
    query's names (case-insensitive), with their configured score.
    """

    default_threshold = 0.7

    def __init__(self, port: int | None = None, dataset: str = "default") -> None:
        super().__init__(port)
        self.dataset = dataset
        self.listed: list[ListedEntity] = []

    def list_entity(self, name: str, **details: Any) -> ListedEntity:
        entity = ListedEntity(name=name, **details)
        with self._lock:
            self.listed.append(entity)
        return entity

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.listed.clear()

    def answer(self, request: ReceivedRequest) -> tuple[int, Any]:
        if request.path != f"/match/{self.dataset}":
            return 404, {"detail": "dataset not found"}
        body = request.body
        queries = body.get("queries") if isinstance(body, dict) else None
        if not isinstance(queries, dict) or not queries:
            return 400, {"detail": "No queries provided."}
        threshold = float(request.query.get("threshold", [self.default_threshold])[0])
        with self._lock:
            listed = list(self.listed)
        responses = {}
        for key, example in queries.items():
            names = {str(n).casefold() for n in example["properties"].get("name", [])}
            results = [
                self._result(index, entity, threshold)
                for index, entity in enumerate(listed)
                if entity.schema == example["schema"] and entity.name.casefold() in names
            ]
            responses[key] = {
                "status": 200,
                "results": results,
                "total": {"value": len(results), "relation": "eq"},
                "query": example,
            }
        return 200, {"responses": responses, "matcher": {}, "limit": 5}

    def _result(self, index: int, entity: ListedEntity, threshold: float) -> dict[str, Any]:
        match = entity.score >= threshold if entity.match is None else entity.match
        return {
            "id": entity.id or f"NK-fake-{index}",
            "caption": entity.name,
            "schema": entity.schema,
            "properties": {"name": [entity.name]},
            "datasets": list(entity.datasets),
            "referents": [],
            "target": True,
            "score": entity.score,
            "features": {"name_literal_match": entity.score},
            "match": match,
        }


@dataclass(frozen=True)
class ReceivedMail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        """The plain-text body, with the wire's CRLF line ends read back as LF."""
        part = self.message.get_body(preferencelist=("plain",))
        content = part.get_content() if isinstance(part, EmailMessage) else ""
        return str(content).replace("\r\n", "\n")


def _not_login_data_deprecation(record: logging.LogRecord) -> bool:
    # aiosmtpd 1.4 itself sets the deprecated Session.login_data after every successful AUTH.
    return "login_data is deprecated" not in record.getMessage()


class FakeSmtpServer:
    """An aiosmtpd SMTP server on a free port, recording the messages it accepts.

    With ``credentials`` it offers AUTH (over plain text: tests have no TLS) and accepts only
    that user and password; ``logins`` lists the users that logged in.
    """

    def __init__(self, credentials: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.credentials = credentials
        self.messages: list[ReceivedMail] = []
        self.logins: list[str] = []
        self._refusals: deque[str] = deque()
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def refuse_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        """Refuse the next ``count`` messages at DATA with ``reply`` (4xx transient, 5xx final)."""
        with self._lock:
            self._refusals.extend([reply] * count)

    def reset(self) -> None:
        with self._lock:
            self.messages.clear()
            self.logins.clear()
            self._refusals.clear()

    def to(self, address: str) -> list[ReceivedMail]:
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def last_code_for(self, address: str) -> str | None:
        """The digits of the code in the last message sent to ``address`` (None if none)."""
        return _last_code([m.body for m in self.to(address)])

    def start(self) -> Self:
        kwargs: dict[str, Any] = {}
        if self.credentials is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
            mail_log = logging.getLogger("mail.log")
            if _not_login_data_deprecation not in mail_log.filters:
                mail_log.addFilter(_not_login_data_deprecation)
        self._controller = Controller(self, hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # aiosmtpd handler hooks (called on the controller's own thread and loop).

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        with self._lock:
            if self._refusals:
                return self._refusals.popleft()
        content = envelope.original_content or envelope.content or b""
        raw = content if isinstance(content, bytes) else content.encode()
        message = BytesParser(policy=email.policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.messages.append(
                ReceivedMail(str(envelope.mail_from), tuple(envelope.rcpt_tos), message)
            )
        return "250 OK"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if (
            self.credentials is not None
            and isinstance(data, LoginPassword)
            and (data.login.decode(), data.password.decode()) == self.credentials
        ):
            with self._lock:
                self.logins.append(data.login.decode())
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)
