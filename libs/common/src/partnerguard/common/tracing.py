"""W3C Trace Context (``traceparent``) and request ids, carried from HTTP into events and back.

The current values live in context variables, so log lines and outgoing events pick them up
without being passed around.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar
from dataclasses import dataclass

import structlog

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

_current_traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)
_current_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


@dataclass(frozen=True)
class TraceParent:
    trace_id: str
    parent_id: str
    flags: str = "01"

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.parent_id}-{self.flags}"

    def child(self) -> TraceParent:
        """The same trace with a new span id, for work this process starts."""
        return TraceParent(self.trace_id, secrets.token_hex(8), self.flags)


def parse_traceparent(value: str | None) -> TraceParent | None:
    """Parse a version-00 ``traceparent``; anything malformed or all-zero is ignored."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip().lower())
    if match is None:
        return None
    trace_id, parent_id, flags = match.groups()
    if trace_id == "0" * 32 or parent_id == "0" * 16:
        return None
    return TraceParent(trace_id, parent_id, flags)


def new_traceparent() -> TraceParent:
    return TraceParent(secrets.token_hex(16), secrets.token_hex(8))


def bind_trace(traceparent: TraceParent, request_id: str | None = None) -> None:
    """Make this trace (and request id) current for logs and outgoing events."""
    _current_traceparent.set(traceparent.header())
    structlog.contextvars.bind_contextvars(trace_id=traceparent.trace_id)
    if request_id is not None:
        _current_request_id.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)


def clear_trace() -> None:
    _current_traceparent.set(None)
    _current_request_id.set(None)
    structlog.contextvars.unbind_contextvars("trace_id", "request_id")


def current_traceparent() -> str | None:
    return _current_traceparent.get()


def current_request_id() -> str | None:
    return _current_request_id.get()
