"""A tiny tenant "service" used to test the kernel: a widgets table, its events and routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field
from sqlalchemy import MetaData, Text, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from partnerguard.common.auth import Caller
from partnerguard.common.db import NAMING_CONVENTION, Repository, TenantMixin
from partnerguard.common.db.rls import enable_tenant_rls
from partnerguard.common.errors import PROBLEM_RESPONSES, NotFound
from partnerguard.common.events.catalog import EventCatalog, EventData
from partnerguard.common.idempotency import IdempotencyDep
from partnerguard.common.outbox import emit
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep, caller_with

TEST_CATALOG = EventCatalog()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Widget(TenantMixin, Base):
    __tablename__ = "widgets"

    name: Mapped[str] = mapped_column(Text)


class WidgetEffect(Base):
    """What a consumer did: one row per handled event (to count effects)."""

    __tablename__ = "widget_effects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    partner_id: Mapped[uuid.UUID]
    widget_id: Mapped[uuid.UUID]
    seq: Mapped[int]


WIDGET_SQL = [
    """CREATE TABLE widgets (
        id uuid PRIMARY KEY, partner_id uuid NOT NULL, name text NOT NULL)""",
    *enable_tenant_rls("widgets"),
    """CREATE TABLE widget_effects (
        id uuid PRIMARY KEY, partner_id uuid NOT NULL, widget_id uuid NOT NULL,
        seq integer NOT NULL)""",
    *enable_tenant_rls("widget_effects"),
]


class WidgetCreated(EventData):
    """A widget was created."""

    catalog = TEST_CATALOG
    event_type = "onboarding.widget.created"

    widget_id: uuid.UUID
    name: str
    seq: int = 0


class WidgetRepository(Repository[Widget]):
    model = Widget


class WidgetIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class WidgetOut(BaseModel):
    id: uuid.UUID
    name: str


WriteCaller = Annotated[Caller, caller_with("widgets:write")]
ReadCaller = Annotated[Caller, caller_with("widgets:read")]

router = APIRouter(prefix="/v1/widgets", responses=PROBLEM_RESPONSES)


@router.post("", status_code=201, response_model=WidgetOut)
async def create_widget(
    body: WidgetIn, caller: WriteCaller, session: SessionDep, idem: IdempotencyDep
) -> object:
    widget = await WidgetRepository(session).add(
        Widget(partner_id=caller.partner_id, name=body.name)
    )
    await emit(
        session,
        WidgetCreated(widget_id=widget.id, name=widget.name),
        partner_id=caller.partner_id,
        subject=widget.id,
    )
    return await idem.respond(WidgetOut(id=widget.id, name=widget.name), status_code=201)


@router.get("/{widget_id}")
async def get_widget(widget_id: uuid.UUID, caller: ReadCaller, session: SessionDep) -> WidgetOut:
    widget = await WidgetRepository(session).get(caller.partner_id, widget_id)
    if widget is None:
        raise NotFound("no such widget")
    return WidgetOut(id=widget.id, name=widget.name)


@router.get("")
async def list_widgets(
    caller: ReadCaller, session: SessionDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[WidgetOut]:
    repo = WidgetRepository(session)
    statement = repo.select_for_partner(caller.partner_id).order_by(Widget.id).limit(page.limit + 1)
    if page.after_id is not None:
        statement = statement.where(Widget.id > page.after_id)
    rows = [WidgetOut(id=w.id, name=w.name) for w in await repo.list(statement)]
    return make_page(rows, page, lambda w: w.id)


async def count_effects(session: AsyncSession, widget_id: uuid.UUID) -> int:
    rows = await session.execute(select(WidgetEffect).where(WidgetEffect.widget_id == widget_id))
    return len(rows.all())
