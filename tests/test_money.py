"""Amounts at core level: the column fast path (`money.parse_plain_column`) gives what `parse_amount`
gives cell by cell, in the currency's minor unit, or declines a column it cannot read alone."""

from __future__ import annotations

import pytest

from pipecli import money
from pipecli.errors import PipecliError


def test_a_plain_column_in_minor_units_of_the_currency():
    cells = ["4500", "4500.5", "4500.50", "", "0.07"]
    # EUR has cents: 4500 * 100; 4500.5 is 4500 and 50 cents; an empty cell is no value
    assert money.parse_plain_column(cells, "EUR") == [450000, 450050, 450050, None, 7]
    assert money.parse_plain_column(["4500", "", "12"], "JPY") == [4500, None, 12]  # no minor unit
    # KWD has three decimals: 4500.5 is 4500 dinars and 500 fils
    assert money.parse_plain_column(["4500.5", "1.25"], "KWD") == [4500500, 1250]


def test_the_column_agrees_with_parse_amount_cell_by_cell():
    by_currency = {
        "EUR": ["1", "10.1", "99.99", "1234567890123", "0", "1234567890123.99"],
        "USD": ["7", "0.5"],
        "JPY": ["1", "0", "1234567890123"],
        "KWD": ["1", "10.1", "99.99", "123456789012"],
    }
    for currency, cells in by_currency.items():
        assert money.parse_plain_column(cells, currency) == [money.parse_amount(c, currency) for c in cells], currency


@pytest.mark.parametrize(
    "cells, currency",
    [
        (["4500", "4,500.00"], "EUR"),  # a thousands separator: parse_amount decides
        (["4500", "€4500"], "EUR"),
        (["4500.123"], "EUR"),  # more decimals than the currency has
        (["4500.5"], "JPY"),  # JPY has none
        (["-5"], "EUR"),  # a sign
        (["45\n00"], "EUR"),  # a line break inside a cell would shift the rows
        (["12345678901234"], "EUR"),  # more than 13 digits
    ],
)
def test_a_column_with_any_other_shape_is_declined(cells, currency):
    assert money.parse_plain_column(cells, currency) is None


def test_past_the_largest_amount_the_column_is_declined_and_parse_amount_says_why():
    # 13 digits of dinars are 10**16 fils at most: more than the 10**15 allowed
    assert money.parse_plain_column(["9999999999999"], "KWD") is None
    with pytest.raises(PipecliError, match="too large"):
        money.parse_amount("9999999999999", "KWD")
    assert money.parse_plain_column(["9999999999999"], "EUR") == [999999999999900]  # under 10**15


def test_parse_amount_reads_the_shapes_it_documents():
    assert money.parse_amount("4,500.00") == 450000
    assert money.parse_amount("4.500,00") == 450000
    assert money.parse_amount("€ 4.500") == 450000
    assert money.parse_amount("4500 EUR") == money.parse_amount("$4,500", "USD") == 450000
    for other in ("$4,500", "USD 4500", "£4500"):  # another currency's symbol or code is not stripped away
        with pytest.raises(PipecliError, match="but this database keeps EUR"):
            money.parse_amount(other)
    assert money.parse_amount("4500", "JPY") == 4500
    with pytest.raises(PipecliError, match="more decimals than JPY allows"):
        money.parse_amount("4500.5", "JPY")


# --- amounts typed on the command line, and amounts written for a locale --------------------------------


@pytest.mark.parametrize(
    "typed, mark, minor",
    [
        ("4.5k", None, 450000),
        ("12K", None, 1200000),
        ("1.2m", None, 120000000),
        ("1,5k", None, 150000),
        ("€ 4.500,50", None, 450050),
        ("EUR 12", None, 1200),
        ("4,500", None, 450000),
        ("4,500", ".", 450000),
        ("4,500", ",", 450),
        ("4.500", ",", 450000),
        ("4.500", ".", 450),
    ],
)
def test_typed_amounts(typed, mark, minor):
    assert money.parse_typed(typed, "EUR", mark) == minor


@pytest.mark.parametrize("typed", ["$ 7,250.50", "7250 USD", "£1", "¥100"])
def test_a_typed_amount_in_another_currency_is_refused(typed):
    with pytest.raises(PipecliError, match="this database keeps EUR"):
        money.parse_typed(typed, "EUR")
    assert money.parse_typed("$ 7,250.50", "USD") == 725050


def test_iso_4217_codes_and_their_minor_units():
    assert money.known_currency("eur") and money.known_currency("XOF") and not money.known_currency("XYZ")
    assert (money.exponent("XOF"), money.exponent("JPY"), money.exponent("BHD"), money.exponent("EUR")) == (0, 0, 3, 2)


@pytest.mark.parametrize(
    "locale, currency, minor, shown",
    [
        ("it_IT", "EUR", 450050, "4.500,50 €"),
        ("fr_FR", "EUR", 450050, "4 500,50 €"),
        ("en_US", "EUR", 450050, "€4,500.50"),
        (None, "EUR", -450050, "-€4,500.50"),
        ("it_IT", "JPY", 4500, "4.500 JPY"),
        ("fr_FR", "BHD", 1234500, "1 234,500 BHD"),
    ],
)
def test_amounts_written_for_a_locale(locale, currency, minor, shown):
    assert money.fmt(minor, currency, locale=locale) == shown


def test_the_decimal_mark_of_a_locale():
    assert (money.decimal_mark("it_IT"), money.decimal_mark("en_US"), money.decimal_mark(None)) == (",", ".", None)


def test_thousands_separators_must_group_digits_by_three(cli):
    """Found by the state machine (issue 19): `--value 12,3,4` was stored as 1,234.00. A separator that
    repeats groups thousands, so each group after the first holds three digits (or the lakh's two)."""
    for bad in ("12,3,4", "1.2.3", "1,23,4567", "1,2345.00"):
        result = cli("add-lead", "X", "--value", bad, ok=False)
        assert result.exit_code == 1 and "groups of three" in result.stderr, (bad, result.stderr)
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    for good, minor in (("1,234,567", 123456700), ("12,34,567", 123456700), ("4.500,50", 450050)):
        lead = cli("add-lead", "Y", "--value", good).stdout.strip()
        assert cli.scalar("SELECT value_minor FROM lead WHERE id = :i", i=int(lead)) == minor
