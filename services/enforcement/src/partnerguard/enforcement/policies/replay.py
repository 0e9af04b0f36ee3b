"""Replay: what a proposed policy would have done over past events, against the one in force.

Pure: it takes the events already read and compares the decisions of two rule sets.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from partnerguard.enforcement.policies.rules import Decision, Rule, decide
from partnerguard.enforcement.policies.schemas import PlannedEffect, ReplayChange, ReplayOut


@dataclass(frozen=True)
class PastEvent:
    event_id: uuid.UUID
    event_type: str
    customer_id: uuid.UUID | None
    data: Mapping[str, object]
    occurred_at: datetime


def _effects(decisions: Sequence[Decision]) -> list[PlannedEffect]:
    return [PlannedEffect(rule=d.rule, effect=d.effect(), mode=d.mode) for d in decisions]


def compare(
    current: Sequence[Rule],
    proposed: Sequence[Rule],
    events: Sequence[PastEvent],
    *,
    current_version: int,
) -> ReplayOut:
    """Each event's decisions under both rule sets; a change is an event whose set of effects
    (what is done, not which rule does it) differs."""
    changes: list[ReplayChange] = []
    current_actions = proposed_actions = 0
    for event in events:
        before = decide(current, event.event_type, event.data)
        after = decide(proposed, event.event_type, event.data)
        current_actions += len(before)
        proposed_actions += len(after)
        if sorted(d.effect() for d in before) != sorted(d.effect() for d in after):
            changes.append(
                ReplayChange(
                    event_id=event.event_id,
                    event_type=event.event_type,
                    customer_id=event.customer_id,
                    occurred_at=event.occurred_at,
                    current=_effects(before),
                    proposed=_effects(after),
                )
            )
    return ReplayOut(
        current_version=current_version,
        events_replayed=len(events),
        events_changed=len(changes),
        current_actions=current_actions,
        proposed_actions=proposed_actions,
        changes=changes,
    )
