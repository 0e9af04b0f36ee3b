"""Queries for applications, their audit trail and the velocity of new ones."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, or_, select

from partnerguard.common.db.repository import Repository
from partnerguard.onboarding.applications.schemas import CustomerFilters
from partnerguard.onboarding.models import Application, ApplicationEvent
from partnerguard.onboarding.scoring import VelocityKey

_VELOCITY_COLUMNS: dict[VelocityKey, Any] = {
    VelocityKey.IP: Application.signup_ip,
    VelocityKey.DEVICE: Application.device_id,
    VelocityKey.EMAIL_DOMAIN: Application.email_domain,
    VelocityKey.PHONE: Application.contact_phone,
    VelocityKey.CARD_BIN: Application.card_bin,
}


class ApplicationRepository(Repository[Application]):
    model = Application

    async def by_customer(
        self, partner_id: uuid.UUID, customer_id: uuid.UUID, *, for_update: bool = False
    ) -> Application | None:
        statement = self.select_for_partner(partner_id).where(
            Application.customer_id == customer_id
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def search(
        self,
        partner_id: uuid.UUID,
        filters: CustomerFilters,
        limit: int,
        after_id: uuid.UUID | None,
    ) -> Sequence[Application]:
        statement = self.select_for_partner(partner_id)
        conditions: list[ColumnElement[bool]] = []
        if filters.status is not None:
            conditions.append(Application.status == filters.status)
        if filters.outcome is not None:
            conditions.append(Application.outcome == filters.outcome)
        if filters.country is not None:
            conditions.append(Application.company_country == filters.country)
        if filters.email_domain is not None:
            conditions.append(Application.email_domain == filters.email_domain.lower())
        if filters.vendor_tenant_id is not None:
            conditions.append(Application.vendor_tenant_id == filters.vendor_tenant_id)
        if filters.submitted_from is not None:
            conditions.append(Application.created_at >= filters.submitted_from)
        if filters.submitted_to is not None:
            conditions.append(Application.created_at < filters.submitted_to)
        if after_id is not None:
            conditions.append(Application.id > after_id)
        statement = statement.where(*conditions).order_by(Application.id).limit(limit + 1)
        return await self.list(statement)

    async def review_queue(
        self,
        partner_id: uuid.UUID,
        claimed_by: str | None,
        unclaimed: bool,
        limit: int,
        after_id: uuid.UUID | None,
    ) -> Sequence[Application]:
        """Applications waiting for a reviewer: in review, or a hard reject whose override waits
        for its second reviewer."""
        statement = self.select_for_partner(partner_id).where(
            or_(
                Application.status == "in_review",
                Application.override_requested_by.is_not(None),
            )
        )
        if claimed_by is not None:
            statement = statement.where(Application.claimed_by == claimed_by)
        if unclaimed:
            statement = statement.where(Application.claimed_by.is_(None))
        if after_id is not None:
            statement = statement.where(Application.id > after_id)
        return await self.list(statement.order_by(Application.id).limit(limit + 1))

    async def velocity(
        self,
        partner_id: uuid.UUID,
        values: Mapping[VelocityKey, object],
        windows: Mapping[VelocityKey, int],
        now: datetime,
    ) -> dict[VelocityKey, int]:
        """How many applications share each key's value within that key's window (minutes),
        in one query over the velocity indexes."""
        keys = tuple(key for key, value in values.items() if value is not None and key in windows)
        if not keys:
            return {}
        parameters: dict[str, object] = {"partner_id": partner_id}
        for key in keys:
            parameters[f"{key.value}_value"] = values[key]
            parameters[f"{key.value}_since"] = now - timedelta(minutes=windows[key])
        row = (await self.session.execute(_velocity(keys), parameters)).one()
        return {key: int(count) for key, count in zip(keys, row, strict=True)}

    async def scored_since(
        self, partner_id: uuid.UUID, since: datetime | None, limit: int
    ) -> Sequence[Application]:
        """The most recent scored applications (newest first), for replaying a policy."""
        statement = self.select_for_partner(partner_id).where(Application.facts.is_not(None))
        if since is not None:
            statement = statement.where(Application.created_at >= since)
        return await self.list(statement.order_by(Application.id.desc()).limit(limit))

    async def history(
        self, partner_id: uuid.UUID, application_id: uuid.UUID
    ) -> Sequence[ApplicationEvent]:
        statement = (
            select(ApplicationEvent)
            .where(
                ApplicationEvent.partner_id == partner_id,
                ApplicationEvent.application_id == application_id,
            )
            .order_by(ApplicationEvent.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    def stage(self, application: Application) -> None:
        """Add a new application; it is written with the unit of work."""
        self.session.add(application)

    def record(self, event: ApplicationEvent) -> None:
        """Add an audit entry; it is written with the unit of work."""
        self.session.add(event)


@functools.cache
def _velocity(keys: tuple[VelocityKey, ...]) -> Select[*tuple[int, ...]]:
    """The velocity query for these keys, built once per set of keys (a handful in use):
    constructing it anew cost each application more CPU than the database spends on it."""
    matches = [
        and_(
            _VELOCITY_COLUMNS[key] == bindparam(f"{key.value}_value"),
            Application.created_at >= bindparam(f"{key.value}_since"),
        )
        for key in keys
    ]
    return select(*(func.count().filter(match) for match in matches)).where(
        Application.partner_id == bindparam("partner_id"), or_(*matches)
    )
