"""Which events a webhook receives: exact types, ``<domain>.*`` wildcards, or ``*``. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from partnerguard.common.events import CATALOG, EventDefinition

# The streams the gateway fans out to webhooks (raw USAGE records are not partner events).
WEBHOOK_STREAMS = ("ONBOARDING", "BILLING", "MONITORING", "ENFORCEMENT", "GATEWAY")

ALL_EVENTS = "*"


def deliverable_types() -> list[EventDefinition]:
    """Every catalog type a webhook can subscribe to."""
    return [definition for definition in CATALOG if definition.stream in WEBHOOK_STREAMS]


def _domains() -> set[str]:
    return {definition.domain for definition in deliverable_types()}


def normalise_filters(values: Iterable[str]) -> list[str]:
    """The filters, checked against the catalog, without repeats, in a stable order.

    Raises ``ValueError`` naming the first unknown filter.
    """
    known = {definition.type for definition in deliverable_types()}
    domains = _domains()
    result: set[str] = set()
    for value in values:
        if value == ALL_EVENTS or value in known:
            result.add(value)
        elif value.endswith(".*") and value[:-2] in domains:
            result.add(value)
        else:
            raise ValueError(
                f"{value!r} is not an event type of the catalog, a domain wildcard such as "
                f"'billing.*' (domains: {', '.join(sorted(domains))}), or '*'"
            )
    # A catch-all makes every other filter redundant.
    return [ALL_EVENTS] if ALL_EVENTS in result else sorted(result)


def patterns_matching(event_type: str) -> list[str]:
    """The filters that select ``event_type``: a webhook receives it if it holds any of them."""
    domain = event_type.split(".", 1)[0]
    return [event_type, f"{domain}.*", ALL_EVENTS]
