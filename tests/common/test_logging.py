"""Structured logs: one JSON object per line, carrying service, request id and trace id."""

from __future__ import annotations

import json

import pytest
import structlog

from partnerguard.common.logging import configure_logging
from partnerguard.common.tracing import bind_trace, clear_trace, parse_traceparent


def test_log_lines_are_json_with_request_and_trace(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("billing", "INFO", json=True)
    trace = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
    assert trace is not None
    bind_trace(trace, request_id="req-7")
    try:
        structlog.get_logger().info("dunning.step", invoice_id="inv-1")
    finally:
        clear_trace()
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["event"] == "dunning.step"
    assert line["service"] == "billing"
    assert line["request_id"] == "req-7"
    assert line["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert line["invoice_id"] == "inv-1"
    assert line["level"] == "info"


@pytest.mark.parametrize(
    "value",
    [None, "", "garbage", "00-" + "0" * 32 + "-00f067aa0ba902b7-01", "00-abc-def-01"],
)
def test_malformed_traceparent_is_ignored(value: str | None) -> None:
    assert parse_traceparent(value) is None
