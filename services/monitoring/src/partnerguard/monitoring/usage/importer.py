"""Streams a reconciliation export into the platform, batch by batch, resumably.

Progress is kept in a state file beside the export after every batch the platform answered,
so an interrupted import (network, Ctrl-C, a crash) resumes after the last answered batch.
Records carry ids derived from their rows, so even a batch sent twice (answered but not yet
noted when the import stopped) counts once.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from partnerguard.monitoring.usage.recon import RowError, missing_columns, record_from_row

USAGE_PATH = "/v1/monitoring/usage"
# Rejections listed in the state file and the summary; the count covers them all.
KEEP_REJECTIONS = 1000
RETRY_DELAYS = (1.0, 2.0, 4.0, 8.0, 16.0)


class ImportFailed(Exception):
    """The import cannot go on; the message says why and what to do."""


@dataclass
class Rejection:
    line: int
    record_id: str | None
    reasons: list[str]


@dataclass
class ImportState:
    """Where an import stands; also the state file's content."""

    fingerprint: str
    next_line: int = 2  # line 1 is the header
    accepted: int = 0
    duplicates: int = 0
    rejected_count: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    complete: bool = False

    def reject(self, rejection: Rejection) -> None:
        self.rejected_count += 1
        if len(self.rejected) < KEEP_REJECTIONS:
            self.rejected.append(rejection)

    @classmethod
    def load(cls, path: Path) -> ImportState | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        data["rejected"] = [Rejection(**item) for item in data.get("rejected", [])]
        return cls(**data)

    def save(self, path: Path) -> None:
        # Written whole then renamed: a crash leaves the old state or the new, never half.
        partial = path.with_name(path.name + ".partial")
        partial.write_text(json.dumps(asdict(self), indent=1))
        os.replace(partial, path)


def fingerprint(path: Path) -> str:
    """The file's size and the digest of its first megabyte: another file at the same path
    is not resumed into."""
    with path.open("rb") as handle:
        head = handle.read(1 << 20)
    return f"{path.stat().st_size}:{hashlib.sha256(head).hexdigest()}"


def state_path_for(path: Path) -> Path:
    return path.with_name(path.name + ".import-state.json")


Progress = Callable[[int], None]


async def import_file(
    path: Path,
    http: httpx.AsyncClient,
    *,
    batch_size: int = 5000,
    state_path: Path | None = None,
    restart: bool = False,
    progress: Progress | None = None,
    retry_delays: tuple[float, ...] = RETRY_DELAYS,
) -> ImportState:
    """Import ``path`` through ``http`` (its base URL and credentials set), resuming from the
    state file unless ``restart``; the final state. ``progress`` gets the lines done so far."""
    state_file = state_path or state_path_for(path)
    mark = fingerprint(path)
    state = None if restart else ImportState.load(state_file)
    if state is not None and state.fingerprint != mark:
        raise ImportFailed(
            f"{state_file} belongs to another file; pass --restart to import this one afresh"
        )
    if state is None:
        state = ImportState(fingerprint=mark)
    if state.complete:
        return state
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = missing_columns(reader.fieldnames)
        if missing:
            raise ImportFailed(f"{path} lacks the columns {', '.join(missing)}")
        batch: list[dict[str, Any]] = []
        lines: list[int] = []
        for row in reader:
            line = reader.line_num
            if line < state.next_line:
                continue
            try:
                record = record_from_row(row)
            except (RowError, KeyError, AttributeError) as exc:
                state.reject(Rejection(line, None, [str(exc)]))
                continue
            batch.append(record)
            lines.append(line)
            if len(batch) >= batch_size:
                await _send(http, batch, lines, state, retry_delays)
                state.next_line = line + 1
                state.save(state_file)
                if progress:
                    progress(line)
                batch, lines = [], []
        if batch:
            await _send(http, batch, lines, state, retry_delays)
        state.next_line = reader.line_num + 1
    state.complete = True
    state.save(state_file)
    if progress:
        progress(state.next_line - 1)
    return state


async def _send(
    http: httpx.AsyncClient,
    batch: list[dict[str, Any]],
    lines: list[int],
    state: ImportState,
    retry_delays: tuple[float, ...],
) -> None:
    body = json.dumps({"records": batch}).encode()
    response = await _post(http, body, retry_delays)
    summary = response.json()
    state.accepted += summary["accepted"]
    state.duplicates += summary["duplicates"]
    for item in summary["rejected"]:
        reasons = [
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}"
            for error in item["errors"]
        ]
        state.reject(Rejection(lines[item["index"]], item.get("record_id"), reasons))


async def _post(
    http: httpx.AsyncClient, body: bytes, retry_delays: tuple[float, ...]
) -> httpx.Response:
    """POST a batch; transient failures (connection, 429, 5xx) are retried with backoff."""
    headers = {"content-type": "application/json"}
    for attempt in range(len(retry_delays) + 1):
        try:
            response = await http.post(USAGE_PATH, content=body, headers=headers)
        except httpx.TransportError as exc:
            failure = f"cannot reach {http.base_url}: {exc!r}"
        else:
            if response.status_code == 200:
                return response
            if response.status_code != 429 and response.status_code < 500:
                raise ImportFailed(
                    f"the platform refused the batch ({response.status_code}): {_detail(response)}"
                )
            failure = f"the platform answered {response.status_code}: {_detail(response)}"
        if attempt < len(retry_delays):
            await asyncio.sleep(retry_delays[attempt])
    raise ImportFailed(f"{failure}; progress is kept, run the same command again to resume")


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    return str(body.get("detail") or body.get("title") or body)[:500]
