"""HTTP: receivables — the aging report with DSO, and exposure against credit limits."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from partnerguard.billing.accounts.exposure import Exposure
from partnerguard.billing.deps import Reader
from partnerguard.billing.models import Account
from partnerguard.billing.money import money
from partnerguard.billing.receivables import service
from partnerguard.billing.receivables.aging import dso
from partnerguard.billing.receivables.repository import AgingSums
from partnerguard.billing.receivables.schemas import (
    AgingReport,
    CurrencyAging,
    CustomerAging,
    ExposureOut,
)
from partnerguard.common.errors import PROBLEM_RESPONSES
from partnerguard.common.events.types.common import Money
from partnerguard.common.pagination import Page, PageParams, make_page, page_params
from partnerguard.common.web.deps import SessionDep

router = APIRouter(prefix="/v1/billing", tags=["receivables"], responses=PROBLEM_RESPONSES)


def _buckets(sums: AgingSums, currency: str) -> dict[str, Money | int | float | None]:
    ratio = dso(sums.total, sums.credit_sales)
    return {
        **{bucket.value: money(amount, currency) for bucket, amount in sums.buckets.items()},
        "total": money(sums.total, currency),
        "open_invoices": sums.open_invoices,
        "credit_sales": money(sums.credit_sales, currency),
        "dso": float(ratio) if ratio is not None else None,
    }


@router.get(
    "/receivables/aging",
    response_model=AgingReport,
    summary="Aging receivables",
    description="Open and partially paid invoices issued on or before `as_of` (default: "
    "today, UTC; a future date is a 422), by how long past due they are on `as_of`: "
    "`current` (not yet past due), `days_1_30`, `days_31_60`, `days_61_90`, `days_over_90`. "
    "Customers owing anything are listed by customer id and paged; `totals` covers every "
    "customer the filter allows, per currency (an account has one currency).\n\n"
    "**Balances are today's**: what each invoice still owes now (total - paid - credited). "
    "Payments and credit notes are not rewound to `as_of`, so a past `as_of` leaves out "
    "invoices issued after it and ages the rest as of that day, but an invoice paid since "
    "then no longer counts.\n\n"
    "**DSO** = open receivables / credit sales x 90, where credit sales are the totals of "
    "invoices (void ones excluded) issued in the 90 days up to and including `as_of`; one "
    "decimal, null when there were no such sales.",
)
async def aging(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    as_of: Annotated[date | None, Query(description="YYYY-MM-DD; default today (UTC).")] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer.")] = None,
) -> AgingReport:
    today = datetime.now(UTC).date()
    report = await service.aging_report(
        session,
        caller.partner_id,
        as_of=as_of or today,
        today=today,
        customer_id=customer_id,
        limit=params.limit,
        after=params.after_id,
    )
    rows = [
        CustomerAging.model_validate(
            {
                "customer_id": row.customer_id,
                "account_id": row.account_id,
                "currency": row.currency,
                **_buckets(row.sums, row.currency),
            }
        )
        for row in report.customers
    ]
    page = make_page(rows, params, lambda r: r.customer_id)
    totals = [
        CurrencyAging.model_validate(
            {"currency": t.currency, "customers": t.customers, **_buckets(t.sums, t.currency)}
        )
        for t in report.totals
    ]
    return AgingReport(
        as_of=report.as_of, totals=totals, items=page.items, next_cursor=page.next_cursor
    )


def _exposure_out(account: Account, exposure: Exposure) -> ExposureOut:
    currency = account.currency
    return ExposureOut(
        account_id=account.id,
        customer_id=account.customer_id,
        currency=currency,
        open_receivables=money(exposure.open_receivables, currency),
        unbilled_usage=money(exposure.unbilled_usage, currency),
        credit_balance=money(exposure.credit_balance, currency),
        exposure=money(exposure.total, currency),
        credit_limit=money(exposure.credit_limit, currency)
        if exposure.credit_limit is not None
        else None,
        headroom=money(exposure.headroom, currency) if exposure.headroom is not None else None,
        over_limit=exposure.over_limit,
    )


_EXPOSURE = (
    "Exposure is what the partner stands to lose on a customer now: open receivables plus "
    "unbilled usage (monitoring's daily spend after the last billed period, in the account's "
    "currency), less the credit balance it holds. `headroom` = credit limit - exposure. "
    "`billing.exposure.limit_exceeded` is emitted when a change takes exposure over the limit."
)


@router.get(
    "/exposure",
    response_model=Page[ExposureOut],
    summary="Exposure per account",
    description=_EXPOSURE + " The `over_limit` filter selects accounts by the result of their "
    "last exposure check, which every change to receivables, credit, usage or the limit "
    "re-runs; the figures shown are computed now.",
)
async def list_exposure(
    caller: Reader,
    session: SessionDep,
    params: Annotated[PageParams, Depends(page_params)],
    over_limit: Annotated[
        bool | None, Query(description="Only accounts over (or within) their limit.")
    ] = None,
    customer_id: Annotated[uuid.UUID | None, Query(description="Only this customer's.")] = None,
) -> Page[ExposureOut]:
    rows = await service.exposure_page(
        session,
        caller.partner_id,
        customer_id=customer_id,
        over_limit=over_limit,
        limit=params.limit,
        after=params.after_id,
    )
    return make_page([_exposure_out(*row) for row in rows], params, lambda e: e.account_id)


@router.get(
    "/accounts/{account_id}/exposure",
    response_model=ExposureOut,
    summary="An account's exposure",
    description=_EXPOSURE,
)
async def account_exposure(
    account_id: uuid.UUID, caller: Reader, session: SessionDep
) -> ExposureOut:
    return _exposure_out(*await service.account_exposure(session, caller.partner_id, account_id))
