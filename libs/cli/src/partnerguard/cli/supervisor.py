"""Keeps one child process per service running, with its output prefixed by its name.

A child that dies without being asked to is restarted with exponential backoff; a stop
request sends every child SIGTERM, waits a bounded time for it to drain, then SIGKILLs it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import typer

# One line of a child larger than this is dropped rather than held in memory.
LINE_LIMIT = 1 << 20
_COLOURS = ("cyan", "green", "yellow", "magenta", "blue", "bright_cyan", "bright_green")
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ChildSpec:
    """A process to keep running: its name (the output prefix), command line and environment."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]


class LinePrinter:
    """Writes children's lines as ``[name] line``, padded and coloured on a terminal."""

    def __init__(
        self, names: Sequence[str], *, colour: bool | None = None, err: bool = False
    ) -> None:
        self.width = max((len(n) for n in names), default=0)
        # On stderr when stdout carries a command's answer (``--json`` for scripts).
        self.err = err
        self.colour = (sys.stderr if err else sys.stdout).isatty() if colour is None else colour
        self._colours = {n: _COLOURS[i % len(_COLOURS)] for i, n in enumerate(names)}

    def line(self, name: str, text: str) -> None:
        prefix = f"[{name.ljust(self.width)}]"
        if self.colour:
            prefix = typer.style(prefix, fg=self._colours.get(name, "white"))
        self._write(f"{prefix} {text}")

    def note(self, text: str) -> None:
        """A message of the launcher itself."""
        prefix = "partnerguard:"
        if self.colour:
            prefix = typer.style(prefix, bold=True)
        self._write(f"{prefix} {text}")

    def plain(self, text: str = "") -> None:
        self._write(text)

    def _write(self, text: str) -> None:
        # A closed pipe (``partnerguard run | head``) must not take the platform down.
        with contextlib.suppress(BrokenPipeError):
            typer.echo(text, err=self.err)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, children get SIGTERM if the launcher itself is killed (even by SIGKILL)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None
    prctl = libc.prctl

    def set_parent_death_signal() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_parent_death_signal


class Supervisor:
    """Runs every child until ``stop`` is set, restarting those that die on their own."""

    def __init__(
        self,
        children: Sequence[ChildSpec],
        printer: LinePrinter,
        *,
        grace_seconds: float = 25.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 30.0,
        stable_after: float = 60.0,
    ) -> None:
        self.children = list(children)
        self.printer = printer
        self.grace_seconds = grace_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self._force = asyncio.Event()
        self._preexec = _die_with_parent()

    def force(self) -> None:
        """Stop waiting for children to drain: SIGKILL the ones still running."""
        self._force.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Start every child, keep them running, and return once all exited after ``stop``."""
        tasks = [
            asyncio.create_task(self._keep_running(child, stop), name=f"supervise:{child.name}")
            for child in self.children
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            # Reached early only on a bug or cancellation: never leave a child behind.
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for process in self.processes.values():
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.kill()

    async def _keep_running(self, child: ChildSpec, stop: asyncio.Event) -> None:
        delay = self.backoff_initial
        while not stop.is_set():
            started = time.monotonic()
            try:
                process = await self._spawn(child)
            except OSError as exc:
                self.printer.note(f"{child.name} could not start: {exc}")
            else:
                self.processes[child.name] = process
                code = await self._watch(child, process, stop)
                if code is None:  # stopped on request
                    return
                ran = time.monotonic() - started
                if ran >= self.stable_after:
                    delay = self.backoff_initial
                self.printer.note(
                    f"{child.name} exited unexpectedly ({describe_exit(code)}) after {ran:.1f}s;"
                    f" restarting in {delay:g}s"
                )
            if await _wait_or_stop(stop, delay):
                return
            delay = min(delay * 2, self.backoff_max)

    async def _spawn(self, child: ChildSpec) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *child.argv,
            env=dict(child.env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            limit=LINE_LIMIT,
            # Only a prctl call runs between fork and exec, which is safe beside our threads.
            preexec_fn=self._preexec,
        )

    async def _watch(
        self, child: ChildSpec, process: asyncio.subprocess.Process, stop: asyncio.Event
    ) -> int | None:
        """Pump the child's output until it exits; its exit code, or None when we stopped it."""
        assert process.stdout is not None
        pump = asyncio.create_task(self._pump(child.name, process.stdout))
        exited = asyncio.create_task(process.wait())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        requested = not exited.done()
        if requested:
            await self._terminate(child.name, process, exited)
        code = await exited
        try:
            # The pipe closes when the child exits, unless it left a grandchild holding it.
            await asyncio.wait_for(pump, timeout=5.0)
        except TimeoutError:
            pass
        return None if requested or stop.is_set() else code

    async def _terminate(
        self, name: str, process: asyncio.subprocess.Process, exited: asyncio.Task[int]
    ) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        forced = asyncio.create_task(self._force.wait())
        try:
            await asyncio.wait(
                {exited, forced},
                timeout=self.grace_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            forced.cancel()
        if not exited.done():
            self.printer.note(f"{name} did not stop in time; killing it")
            with contextlib.suppress(ProcessLookupError):
                process.kill()

    async def _pump(self, name: str, stream: asyncio.StreamReader) -> None:
        while True:
            try:
                raw = await stream.readline()
            except ValueError:
                self.printer.line(name, f"<a line longer than {LINE_LIMIT} bytes was dropped>")
                continue
            if not raw:
                return
            self.printer.line(name, raw.decode(errors="replace").rstrip("\r\n"))


async def _wait_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` unless ``stop`` is set first; whether it was."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True
