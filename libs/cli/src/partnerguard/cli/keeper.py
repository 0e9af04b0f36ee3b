"""Keeps the embedded PostgreSQL and NATS of ``partnerguard run`` running.

The services ride out an outage of either (they reconnect, and answer ``/readyz`` with 503
meanwhile), but nothing else would bring a crashed embedded server back: the launcher checks
each one every moment and starts a dead one again on the same port and data folder, retrying
with backoff while it fails to start, until the platform stops.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from partnerguard.cli.supervisor import LinePrinter

CHECK_EVERY_SECONDS = 0.5
BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 10.0


class EmbeddedServer(Protocol):
    """What the keeper needs of a server: whether it runs, and how to start it (blocking)."""

    def running(self) -> bool: ...

    def start(self) -> None: ...


@dataclass(frozen=True)
class KeptServer:
    name: str  # as the operator knows it: "PostgreSQL", "NATS"
    server: EmbeddedServer


class ServerKeeper:
    """Restarts each of ``servers`` that dies, until ``stop`` is set."""

    def __init__(
        self,
        servers: Sequence[KeptServer],
        printer: LinePrinter,
        *,
        check_every: float = CHECK_EVERY_SECONDS,
        backoff_initial: float = BACKOFF_INITIAL,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        self.servers = list(servers)
        self.printer = printer
        self.check_every = check_every
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.restarts: dict[str, int] = {kept.name: 0 for kept in self.servers}

    async def run(self, stop: asyncio.Event) -> None:
        """Watch every server; return once ``stop`` is set (after a start in progress ends)."""
        await asyncio.gather(*(self._keep(kept, stop) for kept in self.servers))

    async def _keep(self, kept: KeptServer, stop: asyncio.Event) -> None:
        while not await _wait_or_stop(stop, self.check_every):
            if kept.server.running():
                continue
            self.printer.note(f"{kept.name} exited unexpectedly; restarting it")
            if not await self._restart(kept, stop):
                return

    async def _restart(self, kept: KeptServer, stop: asyncio.Event) -> bool:
        """Start the server until it runs; False when stopped first."""
        delay = self.backoff_initial
        while not stop.is_set():
            started = time.monotonic()
            try:
                # Blocking (pg_ctl, waiting for the port): in a thread, beside the supervisor.
                await asyncio.to_thread(kept.server.start)
            except (RuntimeError, OSError, TimeoutError) as exc:
                # A crashed PostgreSQL refuses to start while its old backends still hold its
                # shared memory; they exit within moments.
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                self.printer.note(
                    f"{kept.name} did not start again ({reason}); retrying in {delay:g}s"
                )
            else:
                self.restarts[kept.name] += 1
                self.printer.note(f"{kept.name} restarted in {time.monotonic() - started:.1f}s")
                return True
            if await _wait_or_stop(stop, delay):
                return False
            delay = min(delay * 2, self.backoff_max)
        return False


async def _wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; whether it was."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
