"""BIN tables: parsing, the longest-prefix lookup across layers, and card classification."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from partnerguard.billing.instruments.bins import (
    BinEntry,
    BinTable,
    BinTableError,
    Funding,
    Layer,
    classify,
    default_table,
    lookup,
    operator_table,
    parse_bin_table,
    prefixes_of,
)
from partnerguard.billing.models import InstrumentClass

CREDIT, DEBIT, PREPAID = Funding.CREDIT, Funding.DEBIT, Funding.PREPAID


def table(*entries: tuple[str, Funding]) -> BinTable:
    return {prefix: BinEntry(prefix, funding) for prefix, funding in entries}


def test_prefixes_are_listed_longest_first_and_at_most_eight_digits() -> None:
    assert prefixes_of("510510") == ["510510", "51051", "5105", "510", "51", "5"]
    assert prefixes_of("123456789")[0] == "12345678"


def test_the_longest_matching_prefix_wins_within_a_table() -> None:
    layers = {Layer.DEFAULT: table(("51", CREDIT), ("5105", PREPAID), ("510599", DEBIT))}
    match = lookup("51051099", layers)
    assert match is not None
    assert match.entry.prefix == "5105"
    assert match.classified_by == "default:5105"


def test_a_longer_prefix_wins_over_a_higher_layer() -> None:
    layers = {Layer.DEFAULT: table(("510510", PREPAID)), Layer.PARTNER: table(("5", CREDIT))}
    match = lookup("510510", layers)
    assert match is not None
    assert (match.layer, match.entry.funding) == (Layer.DEFAULT, PREPAID)
    other = lookup("599999", layers)
    assert other is not None
    assert other.classified_by == "partner:5"


def test_on_the_same_prefix_partner_beats_operator_beats_default() -> None:
    layers = {
        Layer.DEFAULT: table(("510510", PREPAID)),
        Layer.OPERATOR: table(("510510", DEBIT)),
        Layer.PARTNER: table(("510510", CREDIT)),
    }
    match = lookup("510510", layers)
    assert match is not None
    assert match.classified_by == "partner:510510"
    del layers[Layer.PARTNER]
    match = lookup("510510", layers)
    assert match is not None
    assert match.classified_by == "operator:510510"


def test_no_matching_range_is_no_match() -> None:
    assert lookup("999999", {Layer.DEFAULT: table(("4", CREDIT))}) is None


@pytest.mark.parametrize(
    ("declared", "funding", "expected"),
    [
        (InstrumentClass.CREDIT_CARD, PREPAID, InstrumentClass.PREPAID_CARD),
        (InstrumentClass.DEBIT_CARD, CREDIT, InstrumentClass.CREDIT_CARD),
        (InstrumentClass.CREDIT_CARD, DEBIT, InstrumentClass.DEBIT_CARD),
        (InstrumentClass.PREPAID_CARD, PREPAID, InstrumentClass.PREPAID_CARD),
    ],
)
def test_a_cards_range_decides_its_class_over_the_declared_type(
    declared: InstrumentClass, funding: Funding, expected: InstrumentClass
) -> None:
    result = classify(declared, "123456", {Layer.DEFAULT: table(("1234", funding))})
    assert result.instrument_class is expected
    assert result.match is not None
    assert result.match.classified_by == "default:1234"


def test_a_card_declared_prepaid_stays_prepaid_whatever_its_range_says() -> None:
    result = classify(
        InstrumentClass.PREPAID_CARD, "123456", {Layer.DEFAULT: table(("1234", CREDIT))}
    )
    assert result.instrument_class is InstrumentClass.PREPAID_CARD
    assert result.match is None


def test_an_unlisted_card_keeps_its_declared_type() -> None:
    result = classify(InstrumentClass.DEBIT_CARD, "999999", {Layer.DEFAULT: table(("4", CREDIT))})
    assert (result.instrument_class, result.match) == (InstrumentClass.DEBIT_CARD, None)


def test_instruments_other_than_cards_are_not_looked_up() -> None:
    result = classify(InstrumentClass.STORED_VALUE, None, {Layer.DEFAULT: table(("4", CREDIT))})
    assert (result.instrument_class, result.match) == (InstrumentClass.STORED_VALUE, None)


def test_a_table_file_parses_with_comments_blank_lines_and_optional_columns() -> None:
    parsed = parse_bin_table(
        "# operator table\n\nprefix,funding,brand,country\n"
        "510510,Prepaid,MasterCard,US\n4,credit,,\n",
        source="t.csv",
    )
    assert parsed == {
        "510510": BinEntry("510510", PREPAID, "mastercard", "US"),
        "4": BinEntry("4", CREDIT, None, None),
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("bin,funding,brand,country\n4,credit,,\n", "header"),
        ("", "header"),
        ("prefix,funding,brand,country\n4x,credit,,\n", "row 2: prefix"),
        ("prefix,funding,brand,country\n123456789,credit,,\n", "row 2: prefix"),
        ("prefix,funding,brand,country\n4,charge,,\n", "row 2: funding"),
        ("prefix,funding,brand,country\n4,credit,visa,us\n", "row 2: country"),
        ("prefix,funding,brand,country\n4,credit\n", "row 2: expected 4 columns"),
        ("prefix,funding,brand,country\n4,credit,,\n4,debit,,\n", "row 3: prefix 4 given twice"),
    ],
)
def test_a_bad_table_file_is_refused_with_the_line_named(text: str, problem: str) -> None:
    with pytest.raises(BinTableError, match=problem):
        parse_bin_table(text, source="t.csv")


def test_the_built_in_table_holds_the_documented_samples() -> None:
    built_in = default_table()
    assert built_in["510510"].funding is PREPAID
    assert built_in["424242"].funding is CREDIT
    assert built_in["400005"].funding is DEBIT


def test_a_missing_operator_file_is_an_error_not_an_empty_table(tmp_path: Path) -> None:
    with pytest.raises(BinTableError, match="cannot be read"):
        operator_table(str(tmp_path / "missing.csv"))


prefixes = st.text(alphabet="0123456789", min_size=1, max_size=8)
fundings = st.sampled_from(list(Funding))
tables = st.dictionaries(prefixes, fundings, max_size=12).map(
    lambda d: {p: BinEntry(p, f) for p, f in d.items()}
)


@given(
    card_bin=st.text(alphabet="0123456789", min_size=6, max_size=8),
    layers=st.dictionaries(st.sampled_from(list(Layer)), tables),
)
def test_lookup_returns_the_longest_matching_prefix_of_the_highest_layer(
    card_bin: str, layers: dict[Layer, BinTable]
) -> None:
    candidates = [
        (len(prefix), layer)
        for layer, entries in layers.items()
        for prefix in entries
        if card_bin.startswith(prefix)
    ]
    match = lookup(card_bin, layers)
    if not candidates:
        assert match is None
        return
    assert match is not None
    assert card_bin.startswith(match.entry.prefix)
    assert (len(match.entry.prefix), match.layer) == max(candidates)


@given(
    declared=st.sampled_from(list(InstrumentClass)),
    card_bin=st.text(alphabet="0123456789", min_size=6, max_size=8),
    entries=tables,
)
def test_classification_never_clears_a_declared_prepaid_card_nor_touches_other_types(
    declared: InstrumentClass, card_bin: str, entries: BinTable
) -> None:
    result = classify(declared, card_bin, {Layer.DEFAULT: entries})
    if declared is InstrumentClass.PREPAID_CARD:
        assert result.instrument_class is InstrumentClass.PREPAID_CARD
    elif declared not in {InstrumentClass.CREDIT_CARD, InstrumentClass.DEBIT_CARD}:
        assert result.instrument_class is declared
        assert result.match is None
