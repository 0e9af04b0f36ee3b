"""The launcher keeps its embedded servers running: a PostgreSQL or NATS killed with SIGKILL is
started again on the same port and data folder, with what it held before (the whole platform
riding through it is :mod:`tests.e2e.test_faults`)."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import nats

from partnerguard.cli.embedded import EmbeddedPostgres, free_port
from partnerguard.cli.keeper import KeptServer, ServerKeeper
from partnerguard.cli.supervisor import LinePrinter
from tests.support.polling import eventually
from tests.support.servers import start_nats

QUICK = {"check_every": 0.1, "backoff_initial": 0.1, "backoff_max": 0.4}


class Printed(LinePrinter):
    """The launcher's notes, kept for the test to read."""

    def __init__(self) -> None:
        super().__init__([], colour=False)
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        self.notes.append(text)


@asynccontextmanager
async def keeping(keeper: ServerKeeper) -> AsyncIterator[ServerKeeper]:
    stop = asyncio.Event()
    task = asyncio.create_task(keeper.run(stop))
    try:
        yield keeper
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def notes_starting(printed: Printed, text: str) -> Callable[[], Awaitable[int]]:
    """How many of the launcher's notes start with ``text``, to poll."""

    async def count() -> int:
        return sum(1 for note in printed.notes if note.startswith(text))

    return count


def postmaster_pid(server: EmbeddedPostgres) -> int:
    return int((server.data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


async def test_a_killed_postgres_is_started_again_with_its_data(
    server_dir: Callable[[str], Path],
) -> None:
    # Durable, as the launcher's is (the tests' usual server may lose its last commits in a crash).
    server = EmbeddedPostgres(server_dir("kept-pg"), port=free_port())
    server.start()
    try:
        conn = await asyncpg.connect(server.url)
        await conn.execute("CREATE TABLE kept (note text); INSERT INTO kept VALUES ('before')")
        await conn.close()
        printed = Printed()
        async with keeping(ServerKeeper([KeptServer("PostgreSQL", server)], printed, **QUICK)):
            killed = postmaster_pid(server)
            os.kill(killed, signal.SIGKILL)
            await eventually(
                notes_starting(printed, "PostgreSQL restarted"),
                lambda count: count == 1,
                "the keeper to start PostgreSQL again",
                within=60,
            )
            conn = await asyncpg.connect(server.url)
            notes = await conn.fetchval("SELECT string_agg(note, ',') FROM kept")
            await conn.close()

        assert server.running()
        assert postmaster_pid(server) != killed
        assert notes == "before"
        assert printed.notes[0] == "PostgreSQL exited unexpectedly; restarting it"
    finally:
        server.stop()


async def test_a_killed_nats_is_started_again_with_its_streams(
    server_dir: Callable[[str], Path],
) -> None:
    server = start_nats(server_dir("kept-nats"))
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        await js.publish("kept.note", b"before")
        await nc.close()
        printed = Printed()
        async with keeping(ServerKeeper([KeptServer("NATS", server)], printed, **QUICK)):
            assert server.process is not None
            killed = server.process.pid
            server.kill()
            await eventually(
                notes_starting(printed, "NATS restarted"),
                lambda count: count == 1,
                "the keeper to start NATS again",
            )
            nc = await nats.connect(server.url)
            message = await nc.jetstream().get_last_msg("KEPT", "kept.note")
            await nc.close()

        assert server.running()
        assert server.process is not None
        assert server.process.pid != killed
        assert message.data == b"before"
    finally:
        server.stop()


class Stubborn:
    """A server that is dead and fails to start ``failures`` times before it starts."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.up = False

    def running(self) -> bool:
        return self.up

    def start(self) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise RuntimeError("pg_ctl failed (1): shared memory block is still in use\nmore")
        self.up = True


async def test_a_server_that_fails_to_start_is_tried_again_with_backoff() -> None:
    server = Stubborn(failures=2)
    printed = Printed()
    async with keeping(ServerKeeper([KeptServer("PostgreSQL", server)], printed, **QUICK)):
        await eventually(
            notes_starting(printed, "PostgreSQL restarted"),
            lambda count: count == 1,
            "the stubborn server to start at last",
        )

    assert server.attempts == 3
    assert printed.notes[:3] == [
        "PostgreSQL exited unexpectedly; restarting it",
        "PostgreSQL did not start again (pg_ctl failed (1): shared memory block is still in use)"
        "; retrying in 0.1s",
        "PostgreSQL did not start again (pg_ctl failed (1): shared memory block is still in use)"
        "; retrying in 0.2s",
    ]


async def test_stopping_the_platform_ends_the_retries_at_once() -> None:
    server = Stubborn(failures=1_000)
    printed = Printed()
    # After a failed start, the keeper would wait half a minute before the next.
    keeper = ServerKeeper(
        [KeptServer("NATS", server)], printed, check_every=0.1, backoff_initial=30.0
    )
    async with keeping(keeper):
        await eventually(
            notes_starting(printed, "NATS did not start again"),
            lambda failures: failures == 1,
            "a failed start",
        )
        stopping = time.monotonic()
    stopped_after = time.monotonic() - stopping

    # The keeper's task has ended without waiting out its backoff: nothing is tried any more.
    assert stopped_after < 1.0
    assert server.attempts == 1
    assert not any("restarted" in note for note in printed.notes)
