"""Money is exact: amounts are stored as integers in the currency's minor unit (cents) and parsed and
formatted through Decimal, never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import overload

from pipecli.errors import PipecliError

# ISO 4217 currencies whose minor unit is not 1/100.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2, "BHD": 3, "KWD": 3, "TND": 3}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"}
_PLAIN = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_STRIP = re.compile(r"[\s€$£¥₹]|[A-Z]{3}|\u00a0")
_LARGEST = 10**15  # the largest amount, in minor units


def exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has (2 for EUR, 0 for JPY)."""
    return _EXPONENTS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str = "EUR", decimal_comma: bool | None = None) -> int:
    """Return `text` (`4500`, `4,500.00`, `4.500,00`, `€ 4.500`, `$4,500`) as integer minor units.

    `decimal_comma` True/False says which separator is decimal; None guesses from the shape and raises
    when the shape is ambiguous (`4,500` could be 4.5 or 4500 only in some locales, so a lone separator
    followed by exactly three digits is read as a thousands separator)."""
    raw = str(text).strip()
    plain = _PLAIN.fullmatch(raw) if decimal_comma is not True else None
    if plain:
        # The common shapes (4500, 4500.5, 4500.50) without Decimal: bulk imports parse millions of these.
        places = exponent(currency)
        whole, frac = plain.group(1, 2)
        if frac is None or len(frac) <= min(places, 2):
            fast: int = int(whole) * 10**places + (int(frac.ljust(places, "0")) if frac else 0)
            if fast > _LARGEST:
                raise PipecliError(f"amount {raw!r} is too large")
            return fast
    cleaned = _STRIP.sub("", raw.upper() if raw[:1].isalpha() else raw)
    negative = cleaned.startswith("-")
    if negative:
        cleaned = cleaned[1:]
    if not cleaned or not re.fullmatch(r"[0-9][0-9.,' ]*", cleaned):
        raise PipecliError(f"cannot read {raw!r} as an amount (use 4500, 4500.50, 4,500.00 or 4.500,00)")
    cleaned = cleaned.replace("'", "")
    number = _normalise(cleaned, raw, decimal_comma)
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise PipecliError(f"cannot read {raw!r} as an amount") from None
    places = exponent(currency)
    minor = (value * (Decimal(10) ** places)).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
    if minor != value * (Decimal(10) ** places):
        raise PipecliError(f"amount {raw!r} has more decimals than {currency} allows ({places})")
    if minor > _LARGEST:
        raise PipecliError(f"amount {raw!r} is too large")
    return -int(minor) if negative else int(minor)


def _normalise(s: str, raw: str, decimal_comma: bool | None) -> str:
    """Return `s` as a plain `1234.56` string, deciding which of `.` and `,` is the decimal mark."""
    has_dot, has_comma = "." in s, "," in s
    if has_dot and has_comma:
        decimal = "," if s.rfind(",") > s.rfind(".") else "."
    elif has_dot or has_comma:
        sep = "." if has_dot else ","
        _head, _, tail = s.rpartition(sep)
        if s.count(sep) > 1:
            decimal = None  # repeated separators are thousands groups: 1.234.567
        elif decimal_comma is not None:
            decimal = "," if decimal_comma else "."
        elif len(tail) == 3:
            decimal = None  # 4,500 / 4.500: thousands
        else:
            decimal = sep
    else:
        decimal = None
    if decimal is None:
        return s.replace(".", "").replace(",", "")
    thousands = "," if decimal == "." else "."
    body = s.replace(thousands, "")
    if body.count(decimal) > 1:
        raise PipecliError(f"cannot read {raw!r} as an amount")
    return body.replace(decimal, ".")


@overload
def to_decimal(minor: int, currency: str = "EUR") -> Decimal: ...
@overload
def to_decimal(minor: None, currency: str = "EUR") -> None: ...
def to_decimal(minor: int | None, currency: str = "EUR") -> Decimal | None:
    """Return minor units as an exact Decimal in major units (450000 -> Decimal('4500.00'))."""
    if minor is None:
        return None
    return _major(minor, currency)


def _major(minor: int, currency: str) -> Decimal:
    places = exponent(currency)
    return Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def fmt(minor: int | None, currency: str = "EUR", symbol: bool = True) -> str:
    """Return minor units formatted for people: `€4,500.00`; empty for None."""
    if minor is None:
        return ""
    value = _major(minor, currency)
    sign = "-" if value < 0 else ""
    body = f"{abs(value):,}"
    prefix = _SYMBOLS.get(currency.upper(), currency.upper() + " ") if symbol else ""
    return f"{sign}{prefix}{body}"


def fmt_short(minor: int | None, currency: str = "EUR") -> str:
    """Return a compact amount for narrow columns: `€4.5k`, `€1.2M`, `€300`."""
    if minor is None:
        return ""
    value = _major(minor, currency)
    prefix = _SYMBOLS.get(currency.upper(), currency.upper() + " ")
    for bound, suffix in ((Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")):
        if abs(value) >= bound:
            return f"{prefix}{(value / bound).quantize(Decimal('0.1'))}{suffix}"
    return f"{prefix}{value.quantize(Decimal(1))}"


def round_minor(value: Decimal) -> int:
    """Return a Decimal amount of minor units rounded half-even to a whole minor unit."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# A whole column of the fast shape (at most 13 digits, at most `places` decimals) or empty cells, joined by
# newlines, by the number of decimals allowed: one match checks a batch of a bulk import.
_PLAIN_COLUMNS: dict[int, re.Pattern[str]] = {}


def parse_plain_column(cells: list[str], currency: str = "EUR") -> list[int | None] | None:
    """Return a column of stripped cells as minor units (None for an empty cell) when every cell has
    `parse_amount`'s fast shape (`4500`, `4500.5`, `4500.50`: digits, at most as many decimals as the
    currency has and at most 2); else None, and each cell goes through `parse_amount`, which reads it,
    refuses it or says why. It exists for the bulk import: one regex match and integer arithmetic for
    thousands of cells instead of a call each, with the same results as `parse_amount`."""
    places = exponent(currency)
    decimals = min(places, 2)
    pattern = _PLAIN_COLUMNS.get(decimals)
    if pattern is None:
        cell = r"[0-9]{1,13}" + (rf"(?:\.[0-9]{{1,{decimals}}})?" if decimals else "")
        pattern = _PLAIN_COLUMNS[decimals] = re.compile(f"(?:{cell})?(?:\n(?:{cell})?)*")
    joined = "\n".join(cells)
    if joined.count("\n") != len(cells) - 1 or not pattern.fullmatch(joined):
        return None  # a cell holds a line break (then the count is off) or another shape
    unit: int = 10**places
    minors = [(int(c) * unit if "." not in c else _plain_minor(c, places, unit)) if c else None for c in cells]
    if places > 2 and any(m is not None and m > _LARGEST for m in minors):
        return None  # only more than two places can take 13 digits past the largest amount
    return minors


def _plain_minor(cell: str, places: int, unit: int) -> int:
    whole, frac = cell.split(".")
    return int(whole) * unit + int(frac.ljust(places, "0"))
