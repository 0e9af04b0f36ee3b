"""Value types shared by the payloads of several domains: money, decimal costs, codes.

They live here once so that every event spells an amount, a currency or a country the same way,
and the generated JSON Schema carries one definition of each.
"""

from __future__ import annotations

import re
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Annotated

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictInt,
    StringConstraints,
    WithJsonSchema,
)

# Explicit [0-9] rather than \d: both Python's and pydantic's regex engines treat \d as any
# Unicode digit, which would let "٢٠٢٦-١١" through as a month.
_DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]{1,8})?$"
_DECIMAL = re.compile(_DECIMAL_PATTERN)
_MAX_PLACES = 8

CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 alphabetic currency code, upper case.", examples=["EUR"]),
]
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 country code, upper case.", examples=["DE"]),
]
Month = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$"),
    Field(description="A calendar month, `YYYY-MM`.", examples=["2026-11"]),
]
ReasonCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64),
    Field(description="Stable snake_case code a consumer can branch on.", examples=["velocity"]),
]
# Where the request that caused an event came from (evidence of consent, sign-in origin).
IpAddress = IPv4Address | IPv6Address


class ValueModel(BaseModel):
    """Base of the small values nested in payloads: closed and immutable, like the payloads."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Money(ValueModel):
    """An amount in integer minor units of an ISO 4217 currency; never a float."""

    # Strict: a float (or a numeric string) here is a bug upstream, not something to round.
    amount: StrictInt = Field(
        description="Integer minor units of `currency` (cents for EUR, yen for JPY); "
        "negative only for credits.",
        examples=[12345],
    )
    currency: CurrencyCode


def _decimal_places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    # Only NaN and infinities have a non-integer exponent; callers have refused them already.
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _to_decimal(value: object) -> Decimal:
    if isinstance(value, str):
        if not _DECIMAL.fullmatch(value):
            raise ValueError(
                "expected a decimal string with at most 8 decimal places, e.g. '12.34'"
            )
        return Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("a cost must be a finite number")
        if _decimal_places(value) <= _MAX_PLACES:
            return value
        # 1.000000000 is a fine cost written with spare zeros; drop them so the serialized
        # form still fits the pattern. Anything truly finer than 8 places is refused.
        normal = value.normalize()
        if _decimal_places(normal) > _MAX_PLACES:
            raise ValueError("a cost has at most 8 decimal places")
        return normal
    # A float is refused outright: it has already lost the exact cost it claims to carry.
    raise ValueError("expected a decimal string such as '12.34' (never a float)")


DecimalString = Annotated[
    Decimal,
    PlainValidator(_to_decimal),
    # Fixed-point text: str(Decimal) would write 1E+2 or 1E-8, which the schema's pattern refuses.
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": _DECIMAL_PATTERN,
            "description": "Exact decimal amount as a string, at most 8 decimal places.",
            "examples": ["12.34000000"],
        }
    ),
]
