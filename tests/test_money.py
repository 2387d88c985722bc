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
    assert money.parse_amount("4500", "JPY") == 4500
    with pytest.raises(PipecliError, match="more decimals than JPY allows"):
        money.parse_amount("4500.5", "JPY")
