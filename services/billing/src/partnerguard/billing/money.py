"""ISO 4217 currencies and their minor units; amounts are integers of minor units everywhere."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Annotated

from babel.numbers import get_currency_precision, list_currencies
from pydantic import AfterValidator

from partnerguard.common.events.types.common import CurrencyCode, Money


@cache
def _known() -> frozenset[str]:
    return frozenset(list_currencies())


def _known_currency(code: str) -> str:
    if code not in _known():
        raise ValueError(f"{code} is not an ISO 4217 currency")
    return code


# A code of the right shape that also names a real currency (babel's CLDR list).
Currency = Annotated[CurrencyCode, AfterValidator(_known_currency)]


def minor_units(currency: str) -> int:
    """Digits after the decimal point: 2 for EUR, 0 for JPY, 3 for BHD."""
    return int(get_currency_precision(currency))


# The largest amount billing stores: a bigint of minor units (about 9.2e16 euros).
MAX_MINOR = 2**63 - 1


def to_minor(amount: Decimal, currency: str) -> int:
    """A decimal amount in minor units of ``currency``, rounded half up (away from zero)."""
    scale = Decimal(1).scaleb(minor_units(currency))
    return int((amount * scale).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)
