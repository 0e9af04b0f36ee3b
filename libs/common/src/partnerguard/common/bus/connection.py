"""One NATS connection per process, with JetStream, reconnecting for as long as it runs."""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from partnerguard.common.events.catalog import DOMAIN_STREAMS

log = structlog.get_logger()

# Long enough to cover a relay that crashed after publishing and restarted: its re-publish of
# the same event id is dropped by the broker. Consumers' inboxes cover anything older.
DUPLICATE_WINDOW_SECONDS = 3600.0
RETENTION_SECONDS = 30 * 24 * 3600.0


def stream_configs(replicas: int = 1) -> list[StreamConfig]:
    """The platform's streams: one per domain (``<domain>.>``), file storage."""
    return [
        StreamConfig(
            name=name,
            subjects=[f"{domain}.>"],
            storage=StorageType.FILE,
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            max_age=RETENTION_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            num_replicas=replicas,
        )
        for domain, name in DOMAIN_STREAMS.items()
    ]


class EventBus:
    """The process's NATS connection and JetStream context."""

    def __init__(self, nc: NATS, js: JetStreamContext) -> None:
        self.nc = nc
        self.js = js

    @classmethod
    async def connect(cls, url: str, *, name: str, connect_timeout: float = 5.0) -> EventBus:
        async def disconnected() -> None:
            log.warning("nats.disconnected")

        async def reconnected() -> None:
            log.info("nats.reconnected")

        async def error(exc: Exception) -> None:
            log.warning("nats.error", error=str(exc))

        nc = await nats.connect(
            servers=[url],
            name=name,
            connect_timeout=connect_timeout,
            # Reconnect forever: a NATS outage pauses the service's event work, never ends it.
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            allow_reconnect=True,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )
        return cls(nc, nc.jetstream(timeout=5.0))

    @property
    def connected(self) -> bool:
        return bool(self.nc.is_connected)

    async def ensure_streams(self, replicas: int = 1) -> None:
        """Create or update every stream; safe to run from every replica at every start."""
        for config in stream_configs(replicas):
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                # Exists with another configuration: bring it to ours.
                await self.js.update_stream(config)

    async def publish(
        self, subject: str, payload: bytes, *, msg_id: str, headers: dict[str, str] | None = None
    ) -> Any:
        """Publish and wait for the stream's acknowledgement; the id lets the broker drop repeats."""
        return await self.js.publish(
            subject, payload, headers={"Nats-Msg-Id": msg_id, **(headers or {})}
        )

    async def ping(self, within: float = 2.0) -> None:
        await asyncio.wait_for(self.nc.flush(), within)

    async def close(self) -> None:
        if self.nc.is_closed:
            return
        try:
            await asyncio.wait_for(self.nc.drain(), 5.0)
        except (TimeoutError, nats.errors.ConnectionClosedError):
            await self.nc.close()
