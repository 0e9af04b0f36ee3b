"""The public contract of the aging report and of exposure."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel, Field

from partnerguard.common.events.types.common import Money

_DSO = (
    "Days sales outstanding: open receivables / credit sales of the 90 days up to and "
    "including `as_of` x 90, to one decimal; null when there were no such sales."
)


class AgingBuckets(BaseModel):
    current: Money = Field(description="Not yet past due (due on or after `as_of`).")
    days_1_30: Money = Field(description="1 to 30 days past due.")
    days_31_60: Money = Field(description="31 to 60 days past due.")
    days_61_90: Money = Field(description="61 to 90 days past due.")
    days_over_90: Money = Field(description="91 days or more past due.")
    total: Money = Field(description="Every open balance: the sum of the buckets.")
    open_invoices: int = Field(description="Open and partially paid invoices counted.")
    credit_sales: Money = Field(
        description="Invoice totals issued in the 90 days up to `as_of` (void ones excluded)."
    )
    dso: float | None = Field(description=_DSO, examples=[41.5])


class CustomerAging(AgingBuckets):
    customer_id: uuid.UUID
    account_id: uuid.UUID
    currency: str


class CurrencyAging(AgingBuckets):
    currency: str
    customers: int = Field(description="Customers with an open balance in this currency.")


class AgingReport(BaseModel):
    as_of: date
    totals: list[CurrencyAging] = Field(
        description="The partner's totals per currency, over every customer the filter allows "
        "(not only this page)."
    )
    items: list[CustomerAging] = Field(description="Customers owing anything, by customer id.")
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page of customers."
    )


class ExposureOut(BaseModel):
    account_id: uuid.UUID
    customer_id: uuid.UUID
    currency: str
    open_receivables: Money = Field(description="What open invoices still owe.")
    unbilled_usage: Money = Field(
        description="Daily spend (from monitoring) after the last period any invoice billed."
    )
    credit_balance: Money = Field(description="Posted money not yet applied to an invoice.")
    exposure: Money = Field(description="open_receivables + unbilled_usage - credit_balance.")
    credit_limit: Money | None = Field(description="Null when the account is unlimited.")
    headroom: Money | None = Field(
        description="credit_limit - exposure: negative when over; null when unlimited."
    )
    over_limit: bool
