"""The event catalog: every event type, its payload model, its stream and its subject.

``type`` is ``<domain>.<entity>.<action>``; the NATS subject is
``<domain>.<partner_id>.<entity>.<action>``, so one partner's integrator can be granted
``*.<partner_id>.>`` and nothing else. Payload models register themselves by subclassing
:class:`EventData` with an ``event_type``.
"""

from __future__ import annotations

import builtins
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

_TYPE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*\.[a-z][a-z_]*$")

# One stream per domain, plus USAGE for raw usage ingestion.
DOMAIN_STREAMS: dict[str, str] = {
    "gateway": "GATEWAY",
    "onboarding": "ONBOARDING",
    "billing": "BILLING",
    "monitoring": "MONITORING",
    "enforcement": "ENFORCEMENT",
    "usage": "USAGE",
}


@dataclass(frozen=True)
class EventDefinition:
    type: str
    model: builtins.type[EventData]
    description: str

    @property
    def domain(self) -> str:
        return self.type.split(".", 1)[0]

    @property
    def entity(self) -> str:
        return self.type.split(".")[1]

    @property
    def action(self) -> str:
        return self.type.split(".")[2]

    @property
    def stream(self) -> str:
        return DOMAIN_STREAMS[self.domain]

    def subject(self, partner_id: uuid.UUID | str) -> str:
        return f"{self.domain}.{partner_id}.{self.entity}.{self.action}"

    def subject_pattern(self) -> str:
        """The subject for every partner: what a consumer of this type filters on."""
        return f"{self.domain}.*.{self.entity}.{self.action}"


class EventCatalog:
    def __init__(self) -> None:
        self._definitions: dict[str, EventDefinition] = {}

    def register(self, definition: EventDefinition) -> None:
        if not _TYPE.match(definition.type):
            raise ValueError(f"event type {definition.type!r} is not <domain>.<entity>.<action>")
        if definition.domain not in DOMAIN_STREAMS:
            raise ValueError(f"event type {definition.type!r} names no known domain")
        existing = self._definitions.get(definition.type)
        if existing is not None and existing.model is not definition.model:
            raise ValueError(f"event type {definition.type!r} is registered twice")
        self._definitions[definition.type] = definition

    def get(self, event_type: str) -> EventDefinition | None:
        return self._definitions.get(event_type)

    def __getitem__(self, event_type: str) -> EventDefinition:
        return self._definitions[event_type]

    def __iter__(self) -> Iterator[EventDefinition]:
        return iter(sorted(self._definitions.values(), key=lambda d: d.type))

    def __len__(self) -> int:
        return len(self._definitions)


CATALOG = EventCatalog()


class EventData(BaseModel):
    """Base of every event payload. A subclass with ``event_type`` joins ``catalog``.

    ``catalog`` is the platform's :data:`CATALOG` unless a subclass names another (tests keep
    their own event types out of the published catalog that way).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]
    catalog: ClassVar[EventCatalog] = CATALOG

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        event_type = cls.__dict__.get("event_type")
        if event_type is not None:
            description = " ".join((cls.__doc__ or "").split())
            cls.catalog.register(EventDefinition(event_type, cls, description))

    @classmethod
    def definition(cls) -> EventDefinition:
        return cls.catalog[cls.event_type]
