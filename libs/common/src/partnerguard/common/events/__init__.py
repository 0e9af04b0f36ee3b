"""Events: the CloudEvents envelope, the catalog of types and their payload models."""

from partnerguard.common.events import types as _types  # noqa: F401  (registers the catalog)
from partnerguard.common.events.catalog import CATALOG, DOMAIN_STREAMS, EventData, EventDefinition
from partnerguard.common.events.envelope import CloudEvent, Event

__all__ = ["CATALOG", "DOMAIN_STREAMS", "CloudEvent", "Event", "EventData", "EventDefinition"]
