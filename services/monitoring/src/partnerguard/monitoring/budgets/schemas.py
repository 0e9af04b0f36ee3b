"""The public contract of budgets and spend series."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    WithJsonSchema,
    field_validator,
)

from partnerguard.common.events.types.common import CurrencyCode, DecimalString

DEFAULT_THRESHOLDS = (50, 75, 90, 100)
# The budgets table keeps Numeric(20, 8): 12 digits before the point.
_MAX_AMOUNT = Decimal(10) ** 12


def _positive_amount(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("the budget must be greater than zero")
    if value >= _MAX_AMOUNT:
        raise ValueError("the budget must be below 1000000000000")
    return value


Amount = Annotated[
    DecimalString,
    AfterValidator(_positive_amount),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[0-9]{1,12}(\.[0-9]{1,8})?$",
            "description": "A positive decimal string, at most 8 places.",
            "examples": ["5000.00"],
        }
    ),
]
Percent = Annotated[StrictInt, Field(ge=1, le=1000)]


class BudgetIn(BaseModel):
    """A customer's monthly budget and the percentages of it that alert."""

    model_config = ConfigDict(extra="forbid")

    amount: Amount = Field(
        description="The monthly budget, a decimal string (> 0, at most 8 places).",
        examples=["5000.00"],
    )
    currency: CurrencyCode = Field(
        description="Must be the currency of the customer's usage, once it has any."
    )
    thresholds: list[Percent] = Field(
        default_factory=lambda: list(DEFAULT_THRESHOLDS),
        min_length=1,
        max_length=10,
        description="Distinct percentages of the budget (1..1000) that each alert once a month.",
        examples=[[50, 75, 90, 100]],
        json_schema_extra={"uniqueItems": True},
    )

    @field_validator("thresholds")
    @classmethod
    def _distinct_ascending(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("thresholds must be distinct")
        return sorted(value)


class ThresholdReachedOut(BaseModel):
    threshold: int = Field(description="Percent of the budget.")
    reached_at: datetime
    spent: str = Field(description="Month-to-date spend when the threshold was reached.")


class ForecastOut(BaseModel):
    """The month-end projection at the month's run rate so far."""

    days_elapsed: int = Field(
        description="Days the run rate spreads over: the 1st through today in the current "
        "month, the whole month once it is over (never fewer than through the latest day "
        "with spend)."
    )
    days_in_month: int
    run_rate: str = Field(description="Average spend per elapsed day.")
    projected: str = Field(description="Month-end spend at the run rate.")
    projected_over_budget: bool


class BudgetMonthOut(BaseModel):
    """How the budget stands in one month."""

    month: str = Field(examples=["2026-03"])
    spent: str = Field(description="Spend in the month so far, in the budget's currency.")
    percent_used: str = Field(
        description="`spent` in percent of the budget, cut to 2 places.", examples=["42.17"]
    )
    thresholds_reached: list[ThresholdReachedOut] = Field(
        description="Thresholds reached in the month and when, lowest first."
    )
    forecast: ForecastOut | None = Field(description="Null for a month that has not begun.")


class BudgetOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    amount: str = Field(examples=["5000"])
    currency: str
    thresholds: list[int]
    created_at: datetime
    updated_at: datetime
    spend: BudgetMonthOut


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


class SpendPoint(BaseModel):
    start: datetime | date = Field(
        description="The period's start: an RFC 3339 UTC time for hours, the date for days, "
        "the month's first day for months."
    )
    cost: str = Field(description="Decimal string, at most 8 places.", examples=["12.5"])
    currency: str
    record_count: int


class SpendSeriesOut(BaseModel):
    customer_id: uuid.UUID
    granularity: Granularity
    from_: date = Field(serialization_alias="from")
    to: date = Field(description="Inclusive.")
    points: list[SpendPoint] = Field(
        description="One point per period with spend (periods without any are left out), "
        "oldest first."
    )
