"""A real local HTTP server that receives webhooks, records them and answers as told."""

from __future__ import annotations

import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from partnerguard.cli.embedded import free_port


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int = 200
    delay: float = 0.0


@dataclass
class WebhookReceiver:
    """Answers ``default`` unless answers were queued for a path with :meth:`answer`."""

    port: int = field(default_factory=free_port)
    default: Answer = field(default_factory=Answer)
    received: list[Received] = field(default_factory=list)
    # Serve https with this context (its certificate decides which names are valid).
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self._queued: dict[str, deque[Answer]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def answer(self, path: str, *answers: Answer) -> None:
        """Answer the next requests to ``path`` with these, in order, then the default."""
        with self._lock:
            self._queued.setdefault(path, deque()).extend(answers)

    def always(self, path: str, status: int, delay: float = 0.0) -> None:
        self.answer(path, *([Answer(status, delay)] * 1000))

    def to(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path == path]

    def _next(self, path: str) -> Answer:
        with self._lock:
            queue = self._queued.get(path)
            return queue.popleft() if queue else self.default

    def _record(self, received: Received) -> None:
        with self._lock:
            self.received.append(received)

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the http.server protocol)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                receiver._record(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                answer = receiver._next(self.path)
                if answer.delay:
                    time.sleep(answer.delay)
                payload = b'{"ok": true}'
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up waiting (a timeout test)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
