"""HTTP: activity — customer tenants' activity logs in batches, and listing them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime

from partnerguard.common.errors import PROBLEM_RESPONSES, Unprocessable
from partnerguard.common.pagination import MAX_LIMIT, Page
from partnerguard.common.web.deps import SessionDep
from partnerguard.monitoring.activity import service
from partnerguard.monitoring.activity.schemas import (
    ActivityBatchIn,
    ActivityBatchResult,
    ActivityEntryOut,
    ActivityFilters,
)
from partnerguard.monitoring.deps import Reader, SettingsDep, Writer

router = APIRouter(prefix="/v1/monitoring", tags=["activity"], responses=PROBLEM_RESPONSES)


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    "/activity-logs",
    response_model=ActivityBatchResult,
    summary="Send activity-log entries",
    description="A batch of a customer tenant's activity-log entries (sign-ins, settings and "
    "role changes, resource changes). Each entry names its customer by `customer_id` or by "
    "`vendor_tenant_id` (an unknown tenant refuses that entry). Entries are checked one by one: "
    "a bad entry is listed in `rejected` with its reasons and the others are stored. An "
    "`entry_id` already sent is counted in `duplicates`, stored once and never evaluated again, "
    "so a batch can be resent safely. New entries run through the activity rules (MFA "
    "disabled, privileged role granted, new global admin, new country, impossible travel, mass "
    "creation or deletion, credentials created); `alerts` lists the alerts they raised, each "
    "announced as `monitoring.alert.raised`. A body that is not a batch (not JSON, no "
    "`entries`, none or more than the limit) is a 422 and stores nothing.",
)
async def ingest_activity_logs(
    body: ActivityBatchIn, caller: Writer, session: SessionDep, settings: SettingsDep
) -> ActivityBatchResult:
    if len(body.entries) > settings.activity_batch_max:
        raise Unprocessable(f"a batch holds at most {settings.activity_batch_max} entries")
    return await service.ingest_activity(session, caller.partner_id, body.entries, _now())


@router.get(
    "/activity-logs",
    response_model=Page[ActivityEntryOut],
    summary="List activity-log entries",
    description="Newest first, by when each entry happened (then by `entry_id`).",
)
async def list_activity_logs(
    caller: Reader,
    session: SessionDep,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
    actor: Annotated[
        str | None, Query(min_length=1, max_length=320, description="Only this actor's (exact).")
    ] = None,
    occurred_from: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Only entries that happened at or after this time."),
    ] = None,
    occurred_to: Annotated[
        AwareDatetime | None,
        Query(alias="to", description="Only entries that happened before this time."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = 50,
    cursor: Annotated[str | None, Query(max_length=2048, description="From `next_cursor`.")] = None,
) -> Page[ActivityEntryOut]:
    if occurred_from is not None and occurred_to is not None and occurred_from >= occurred_to:
        raise Unprocessable("`from` must be before `to`")
    filters = ActivityFilters(
        customer_id=customer_id,
        actor=actor,
        occurred_from=occurred_from,
        occurred_to=occurred_to,
    )
    return await service.list_activity(
        session, caller.partner_id, filters, limit=limit, cursor=cursor
    )
