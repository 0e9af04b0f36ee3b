"""BIN tables and card classification by the longest matching prefix.

Three layers of ranges classify a card: the partner's own (``bin_ranges`` rows), the operator's
file (``BILLING_BIN_TABLE_PATH``) and the built-in sample file packaged beside this module.
All three are searched together: the longest matching prefix wins, and on a prefix that more
than one layer lists, the partner beats the operator, who beats the built-in table. A partner
overrides a range by listing the same (or a longer) prefix; a short partner prefix never
shadows a more specific known range (``5`` as credit must not whitelist a prepaid ``510510``).

Everything here but the two loaders is pure.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from functools import cache
from importlib import resources
from pathlib import Path

from partnerguard.billing.models import InstrumentClass

CARD_CLASSES = frozenset(
    {InstrumentClass.CREDIT_CARD, InstrumentClass.DEBIT_CARD, InstrumentClass.PREPAID_CARD}
)
MAX_PREFIX = 8

_PREFIX = re.compile(r"^[0-9]{1,8}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
_COLUMNS = ("prefix", "funding", "brand", "country")


class Funding(StrEnum):
    """How a card is funded, as a BIN table says."""

    CREDIT = "credit"
    DEBIT = "debit"
    PREPAID = "prepaid"

    @property
    def instrument_class(self) -> InstrumentClass:
        return _CLASS_OF_FUNDING[self]


_CLASS_OF_FUNDING = {
    Funding.CREDIT: InstrumentClass.CREDIT_CARD,
    Funding.DEBIT: InstrumentClass.DEBIT_CARD,
    Funding.PREPAID: InstrumentClass.PREPAID_CARD,
}


class Layer(IntEnum):
    """Where a range comes from; a higher layer wins a tie on the same prefix."""

    DEFAULT = 1
    OPERATOR = 2
    PARTNER = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class BinEntry:
    prefix: str
    funding: Funding
    brand: str | None = None
    country: str | None = None


BinTable = Mapping[str, BinEntry]
"""One layer's ranges by prefix."""


@dataclass(frozen=True)
class BinMatch:
    entry: BinEntry
    layer: Layer

    @property
    def classified_by(self) -> str:
        """What is recorded on the instrument: ``partner:510510``, ``default:4242`` ..."""
        return f"{self.layer.label}:{self.entry.prefix}"


@dataclass(frozen=True)
class Classification:
    """An instrument's class after its BIN was looked up; ``match`` is None when no range did."""

    instrument_class: InstrumentClass
    match: BinMatch | None


class BinTableError(ValueError):
    """A BIN table file that cannot be used as it is."""


def prefixes_of(card_bin: str) -> list[str]:
    """Every prefix of ``card_bin`` a range could name, longest first."""
    return [card_bin[:length] for length in range(min(len(card_bin), MAX_PREFIX), 0, -1)]


def lookup(card_bin: str, layers: Mapping[Layer, BinTable]) -> BinMatch | None:
    """The range deciding ``card_bin``: the longest prefix, then the highest layer."""
    for prefix in prefixes_of(card_bin):
        for layer in sorted(layers, reverse=True):
            entry = layers[layer].get(prefix)
            if entry is not None:
                return BinMatch(entry, layer)
    return None


def classify(
    declared: InstrumentClass, card_bin: str | None, layers: Mapping[Layer, BinTable]
) -> Classification:
    """The instrument's class: a card's BIN range decides its funding over what was declared.

    One exception keeps the rule safe: a card declared prepaid stays prepaid whatever its range
    says. Prepaid cards are issued inside ranges a table lists as credit or debit, and whoever
    declared it prepaid has seen the card; a table may only make a card more suspect.
    """
    if declared not in CARD_CLASSES or card_bin is None:
        return Classification(declared, None)
    match = lookup(card_bin, layers)
    if match is None:
        return Classification(declared, None)
    found = match.entry.funding.instrument_class
    if declared is InstrumentClass.PREPAID_CARD and found is not InstrumentClass.PREPAID_CARD:
        return Classification(declared, None)
    return Classification(found, match)


def parse_bin_table(text: str, *, source: str) -> dict[str, BinEntry]:
    """Parse a CSV BIN table (``prefix,funding,brand,country``; ``#`` starts a comment line).

    Raises :class:`BinTableError` naming ``source`` and the line for anything it cannot use:
    a table silently half-read would let prepaid cards through.
    """
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    if not rows or tuple(cell.strip().lower() for cell in rows[0]) != _COLUMNS:
        raise BinTableError(f"{source}: the header must be {','.join(_COLUMNS)}")
    table: dict[str, BinEntry] = {}
    for number, row in enumerate(rows[1:], start=2):
        entry = _entry(row, f"{source}: row {number}")
        if entry.prefix in table:
            raise BinTableError(f"{source}: row {number}: prefix {entry.prefix} given twice")
        table[entry.prefix] = entry
    return table


def _entry(row: list[str], where: str) -> BinEntry:
    if len(row) != len(_COLUMNS):
        raise BinTableError(f"{where}: expected {len(_COLUMNS)} columns")
    prefix, funding, brand, country = (cell.strip() for cell in row)
    if not _PREFIX.match(prefix):
        raise BinTableError(f"{where}: prefix must be 1 to 8 digits")
    try:
        funding_value = Funding(funding.lower())
    except ValueError:
        raise BinTableError(f"{where}: funding must be credit, debit or prepaid") from None
    if country and not _COUNTRY.match(country):
        raise BinTableError(f"{where}: country must be an upper-case ISO alpha-2 code")
    return BinEntry(prefix, funding_value, brand.lower() or None, country or None)


def table_of(entries: Iterable[BinEntry]) -> dict[str, BinEntry]:
    return {entry.prefix: entry for entry in entries}


@cache
def default_table() -> Mapping[str, BinEntry]:
    """The built-in sample table packaged with the service (read once per process)."""
    text = (
        resources.files("partnerguard.billing.instruments")
        .joinpath("bin_ranges.csv")
        .read_text(encoding="utf-8")
    )
    return parse_bin_table(text, source="built-in bin_ranges.csv")


@cache
def operator_table(path: str) -> Mapping[str, BinEntry]:
    """The operator's table at ``path`` (read once per process; a failed read is retried)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BinTableError(f"{path}: cannot be read ({exc.strerror})") from exc
    return parse_bin_table(text, source=path)
