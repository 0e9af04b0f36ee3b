"""HTTP: usage in (batches of rated records) and the stream batches' refused records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from partnerguard.common.errors import PROBLEM_RESPONSES, PayloadTooLarge
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep, checks_own_body, get_runtime
from partnerguard.monitoring.deps import Reader, SettingsDep, Writer
from partnerguard.monitoring.usage.footprints import KnownFootprints
from partnerguard.monitoring.usage.ingest import ingest
from partnerguard.monitoring.usage.reading import read_batch
from partnerguard.monitoring.usage.repository import RejectionRepository
from partnerguard.monitoring.usage.schemas import BATCH_SCHEMA, IngestSummary, StreamRejectionOut

router = APIRouter(prefix="/v1/monitoring", tags=["usage"], responses=PROBLEM_RESPONSES)

# About 500 bytes a record: room for a full batch of long labels, and no more.
MAX_BODY_BYTES = 16 * 1024 * 1024


def known_footprints(request: Request) -> KnownFootprints:
    known: KnownFootprints = get_runtime(request).extras.setdefault(
        "known_footprints", KnownFootprints()
    )
    return known


@router.post(
    "/usage",
    response_model=IngestSummary,
    summary="Send a batch of rated usage records",
    description="Up to 10,000 records. Each record is checked on its own: good ones are stored "
    "and counted even when others in the batch are refused, and the answer lists every refused "
    "record (its position, its id, what is wrong). A record whose id was stored before is a "
    "duplicate and changes nothing, so a batch may be re-sent safely after a failure. "
    "A body that is not a batch at all is a 422 and stores nothing.\n\n"
    "A customer's usage has one currency, that of its first record; records in another are "
    "refused. Records count in the hour and the UTC day of their `usage_start`.",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BATCH_SCHEMA}}}
    },
)
@checks_own_body
async def post_usage(
    request: Request, session: SessionDep, caller: Writer, settings: SettingsDep
) -> IngestSummary:
    # Read raw: a body validated whole would refuse every record for one bad one.
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"a batch is at most {MAX_BODY_BYTES} bytes")
    checked = read_batch(body, settings.usage_batch_max, datetime.now(UTC))
    return await ingest(session, caller.partner_id, checked, known_footprints(request))


@router.get(
    "/usage/rejections",
    response_model=Page[StreamRejectionOut],
    summary="Records refused from stream batches",
    description="Records sent on the USAGE stream (`usage.<partner_id>.records`) that were "
    "refused, with why; an HTTP batch answers its refusals directly instead. Oldest first.",
)
async def get_rejections(
    session: SessionDep,
    caller: Reader,
    page: Annotated[PageParams, Depends(page_params)],
    batch: Annotated[str | None, Query(max_length=300, description="One stream batch.")] = None,
) -> Page[StreamRejectionOut]:
    rows = await RejectionRepository(session).page(caller.partner_id, page, batch)
    return make_page([StreamRejectionOut.model_validate(row) for row in rows], page, lambda r: r.id)
