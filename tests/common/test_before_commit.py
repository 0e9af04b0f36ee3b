"""``before_commit``: work run last in a unit of work, inside its transaction, never on rollback."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from partnerguard.common.db.engine import Database, before_commit
from partnerguard.common.ids import new_id
from tests.support.widgets import WidgetEffect, count_effects


def effect(partner_id: uuid.UUID, widget_id: uuid.UUID, seq: int) -> WidgetEffect:
    return WidgetEffect(id=new_id(), partner_id=partner_id, widget_id=widget_id, seq=seq)


async def test_a_hook_runs_last_inside_the_transaction_and_once(
    db: Database, partner_id: uuid.UUID
) -> None:
    widget = uuid.uuid4()
    order: list[str] = []

    async def hook(session: AsyncSession) -> None:
        order.append("hook")
        session.add(effect(partner_id, widget, 2))

    async with db.tenant_session(partner_id) as session:
        before_commit(session, hook)
        before_commit(session, hook)  # the same hook twice: once
        session.add(effect(partner_id, widget, 1))
        order.append("body")

    assert order == ["body", "hook"]
    async with db.tenant_session(partner_id) as session:
        assert await count_effects(session, widget) == 2


async def test_a_hook_does_not_run_when_the_unit_of_work_fails(
    db: Database, partner_id: uuid.UUID
) -> None:
    ran: list[bool] = []

    async def hook(session: AsyncSession) -> None:
        ran.append(True)

    async def failing_action() -> None:
        async with db.sweep_session() as session:
            before_commit(session, hook)
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError, match="the action failed"):
        await failing_action()

    assert ran == []


async def test_a_failing_hook_rolls_the_whole_unit_back(
    db: Database, partner_id: uuid.UUID
) -> None:
    widget = uuid.uuid4()

    async def hook(session: AsyncSession) -> None:
        raise RuntimeError("could not append")

    async def action() -> None:
        async with db.tenant_session(partner_id) as session:
            session.add(effect(partner_id, widget, 1))
            before_commit(session, hook)

    with pytest.raises(RuntimeError, match="could not append"):
        await action()

    async with db.tenant_session(partner_id) as session:
        assert await count_effects(session, widget) == 0


async def test_a_hook_may_register_another(db: Database, partner_id: uuid.UUID) -> None:
    order: list[str] = []

    async def second(session: AsyncSession) -> None:
        order.append("second")

    async def first(session: AsyncSession) -> None:
        order.append("first")
        before_commit(session, second)

    async with db.session() as session:
        before_commit(session, first)

    assert order == ["first", "second"]
