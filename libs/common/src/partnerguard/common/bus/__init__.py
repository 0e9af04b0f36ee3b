"""NATS JetStream: the connection, streams, publishing and durable pull consumers."""

from partnerguard.common.bus.connection import EventBus, stream_configs

__all__ = ["EventBus", "stream_configs"]
