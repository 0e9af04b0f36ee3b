"""Row-level security: the second wall holds even when the application forgets its filter."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from partnerguard.common.db.engine import Database, make_engine, set_partner
from partnerguard.common.ids import new_id
from tests.support.widgets import Widget


async def add_widget(db: Database, partner_id: uuid.UUID, name: str) -> uuid.UUID:
    async with db.tenant_session(partner_id) as session:
        widget = Widget(id=new_id(), partner_id=partner_id, name=name)
        session.add(widget)
    return widget.id


async def test_unfiltered_query_sees_only_the_transactions_partner(db: Database) -> None:
    partner_a, partner_b = uuid.uuid4(), uuid.uuid4()
    secret = await add_widget(db, partner_a, "a-secret")
    await add_widget(db, partner_b, "b-own")

    async with db.tenant_session(partner_b) as session:
        # No partner filter at all, as a buggy query would be written.
        names = (await session.scalars(select(Widget.name))).all()
        by_id = await session.get(Widget, secret)
    assert names == ["b-own"]
    assert by_id is None


async def test_writing_a_row_for_another_partner_is_refused(db: Database) -> None:
    partner_a, partner_b = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(DBAPIError, match="row-level security"):
        async with db.tenant_session(partner_b) as session:
            session.add(Widget(id=new_id(), partner_id=partner_a, name="planted"))
    async with db.sweep_session() as session:
        assert await session.scalar(select(func.count()).select_from(Widget)) == 0


async def test_updates_cannot_reach_another_partners_rows(db: Database) -> None:
    partner_a, partner_b = uuid.uuid4(), uuid.uuid4()
    await add_widget(db, partner_a, "untouched")
    async with db.tenant_session(partner_b) as session:
        result = await session.execute(text("UPDATE widgets SET name = 'hijacked'"))
        assert result.rowcount == 0  # type: ignore[attr-defined]
    async with db.tenant_session(partner_a) as session:
        assert (await session.scalars(select(Widget.name))).all() == ["untouched"]


async def test_without_a_partner_set_no_tenant_row_is_visible(db: Database) -> None:
    await add_widget(db, uuid.uuid4(), "hidden")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Widget)) == 0


async def test_the_sweep_role_sees_every_partner(db: Database) -> None:
    await add_widget(db, uuid.uuid4(), "one")
    await add_widget(db, uuid.uuid4(), "two")
    async with db.sweep_session() as session:
        assert await session.scalar(select(func.count()).select_from(Widget)) == 2


async def test_the_application_role_owns_no_table(db: Database) -> None:
    async with db.session() as session:
        owned = await session.scalar(
            text("SELECT count(*) FROM pg_tables WHERE tableowner = current_user")
        )
        with pytest.raises(DBAPIError, match="must be owner"):
            await session.execute(text("ALTER TABLE widgets DISABLE ROW LEVEL SECURITY"))
    assert owned == 0


async def test_the_partner_travels_with_the_begin_and_not_as_a_statement(db: Database) -> None:
    partner_id = uuid.uuid4()
    await add_widget(db, partner_id, "mine")
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        async with db.tenant_session(partner_id) as session:
            names = (await session.scalars(select(Widget.name))).all()
            setting = await session.scalar(text("SELECT current_setting('app.partner_id')"))
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    assert names == ["mine"]
    assert setting == str(partner_id)
    assert not [s for s in statements if "set_config" in s]


async def test_a_partner_set_for_an_unused_transaction_reaches_no_later_one(db: Database) -> None:
    """A transaction that ran no statement never sent its BEGIN, nor its partner: the next
    transaction on the same pooled connection must not inherit it."""
    partner_id = uuid.uuid4()
    await add_widget(db, partner_id, "secret")
    url = db.engine.url.render_as_string(hide_password=False)
    one = Database(make_engine(url, application_name="t", pool_size=1, max_overflow=0))
    try:
        async with one.tenant_session(partner_id):
            pass
        async with one.session() as session:
            visible = await session.scalar(select(func.count()).select_from(Widget))
            setting = await session.scalar(text("SELECT current_setting('app.partner_id', true)"))
    finally:
        await one.dispose()
    assert visible == 0
    assert setting in (None, "")


async def test_a_partner_set_once_the_transaction_has_begun_applies_at_once(
    db: Database,
) -> None:
    partner_id = uuid.uuid4()
    await add_widget(db, partner_id, "mine")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Widget)) == 0
        await set_partner(session, partner_id)
        names = (await session.scalars(select(Widget.name))).all()
    assert names == ["mine"]
