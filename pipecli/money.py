"""Money is exact: amounts are stored as integers in the currency's minor unit (cents) and parsed and
formatted through Decimal, never float."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, overload

from pipecli.errors import PipecliError

# The ISO 4217 currency codes in use (metals, funds and test codes left out) and the minor units of those
# whose minor unit is not 1/100 (ISO 4217's "minor unit" column).
ISO_4217 = frozenset(
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD "
    "CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
    "GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT "
    "LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD "
    "OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC "
    "SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG "
    "XOF XPF YER ZAR ZMW ZWG ZWL".split()
)
_EXPONENTS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
    **dict.fromkeys("CLF UYW".split(), 4),
}
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"}
# What an amount typed with a symbol says about its currency (`$ 7,250.50` is not euros).
_SYMBOL_CURRENCIES = {"€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR"}
_SUFFIX = r"(?i)([0-9][0-9.,]*)\s*([km]|mln|mio)"  # compiled on first use (re's cache): import stays cheap
_MULTIPLIERS = {"k": 3, "m": 6, "mln": 6, "mio": 6}
_PLAIN = re.compile(r"([0-9]+)(?:\.([0-9]+))?")
_STRIP = re.compile(r"[\s€$£¥₹]|[A-Z]{3}|\u00a0")
_LARGEST = 10**15  # the largest amount, in minor units


def known_currency(code: str) -> bool:
    """Return True when `code` is an ISO 4217 currency code in use (EUR, XOF, BHD; not XYZ)."""
    return code.upper() in ISO_4217


def exponent(currency: str) -> int:
    """Return how many decimal places the currency's minor unit has (2 for EUR, 0 for JPY)."""
    return _EXPONENTS.get(currency.upper(), 2)


def parse_amount(text: str, currency: str = "EUR", decimal_comma: bool | None = None) -> int:
    """Return `text` (`4500`, `4,500.00`, `4.500,00`, `€ 4.500`, `4500 EUR`) as integer minor units of
    `currency`; raise when it carries another currency's symbol or code (`$4,500` in a EUR database).

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
    _refuse_other_currency(raw, currency.upper())  # the symbol or code is stripped below: never another's
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


# Languages (and territories) whose decimal mark is a point; most others write a comma.
_POINT_LANGUAGES = {"en", "ja", "zh", "ko", "th", "he", "hi", "ms", "ga", "mt", "sw", "ta", "te", "bn", "fil", "my"}
_POINT_TERRITORIES = {"CH", "LI", "MX", "PR", "GT", "DO", "PE"}


def decimal_mark(locale: str | None) -> str | None:
    """Return the decimal mark `locale` writes (`,` for it_IT and fr_FR, `.` for en_US), or None when no
    locale is known: what settles an amount typed as `4,500` (see `parse_typed`)."""
    if locale is None:
        return None
    language, _, territory = locale.partition("_")
    if territory in _POINT_TERRITORIES or (language in _POINT_LANGUAGES and territory not in ("ZA", "IN")):
        return "."
    return ","


def _refuse_other_currency(raw: str, code: str) -> None:
    """Raise when `raw` carries a currency symbol or code other than `code`'s (`$4,500` in a EUR database)."""
    found = {_SYMBOL_CURRENCIES[ch] for ch in raw if ch in _SYMBOL_CURRENCIES}
    found |= {w for w in re.findall(r"[A-Za-z]{3}", raw) if w.upper() in ISO_4217 and w.upper() == w}
    others = sorted(c for c in found if c != code)
    if others:
        raise PipecliError(
            f"amount {raw!r} is in {others[0]}, but this database keeps {code}; convert it first, "
            f"or give it without a currency"
        )


def parse_typed(text: str, currency: str = "EUR", decimal_mark: str | None = None) -> int:
    """Return an amount as people type it on the command line as minor units of `currency`: what
    `parse_amount` reads, plus `4.5k`, `12k`, `1.2m` (thousands, millions), and a currency symbol or
    code only when it is `currency`'s (`$ 7,250.50` in a EUR database is refused, not stored as euros).

    `decimal_mark` (`.` or `,`, from the locale) settles the one ambiguous shape, a lone separator
    followed by three digits: `4,500` is 4.5 where `,` is the decimal mark and 4500 where it is not."""
    raw = str(text).strip()
    code = currency.upper()
    _refuse_other_currency(raw, code)
    bare = re.sub(r"[€$£¥₹]|\b[A-Z]{3}\b", "", raw).strip()
    suffixed = re.fullmatch(_SUFFIX, bare)
    if suffixed:
        number, suffix = suffixed.groups()
        if "," in number and "." in number:
            raise PipecliError(f"cannot read {raw!r} as an amount (use 4.5k, 12k or 1.2m)")
        value = Decimal(number.replace(",", ".")) if number.count(",") + number.count(".") <= 1 else None
        if value is None:
            raise PipecliError(f"cannot read {raw!r} as an amount (use 4.5k, 12k or 1.2m)")
        places = exponent(code)
        minor = value.scaleb(_MULTIPLIERS[suffix.lower()] + places)
        if minor != minor.to_integral_value():
            raise PipecliError(f"amount {raw!r} has more decimals than {code} allows ({places})")
        if minor > _LARGEST:
            raise PipecliError(f"amount {raw!r} is too large")
        return int(minor)
    decimal_comma = None
    if decimal_mark is not None and re.fullmatch(r"-?[0-9]{1,3}[.,][0-9]{3}", bare):
        decimal_comma = decimal_mark == ","
    return parse_amount(bare, code, decimal_comma)


def _grouped(whole: str, sep: str) -> bool:
    """Return True when the whole part `whole` is digits in thousands groups split by `sep` (1,234,567),
    or in the Indian lakh grouping (12,34,567); `12,3,4` is not an amount."""
    groups = whole.split(sep)
    if len(groups) == 1:
        return True
    first, rest = groups[0], groups[1:]
    if not 1 <= len(first) <= 3 or len(rest[-1]) != 3:
        return False
    middle = {len(g) for g in rest[:-1]}
    return middle <= {3} or (middle == {2} and len(first) <= 2)


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
    thousands = "," if decimal == "." else "."
    if decimal is None:  # one kind of separator at most, all of them thousands
        whole, thousands = s.replace(".", ","), ","
    else:
        whole = s[: s.rfind(decimal)] if decimal in s else s
    if not _grouped(whole, thousands):
        raise PipecliError(f"cannot read {raw!r} as an amount: thousands come in groups of three (4,500,000)")
    if decimal is None:
        return whole.replace(",", "")
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


def fmt(minor: int | None, currency: str = "EUR", symbol: bool = True, locale: str | None = None) -> str:
    """Return minor units formatted for people: `€4,500.00`, or as `locale` writes them (`4.500,00 €` in
    it_IT, `4 500,00 €` in fr_FR); empty for None. en_US (and no locale) is written here without babel."""
    if minor is None:
        return ""
    value = _major(minor, currency)
    if locale is not None and locale not in ("en_US", "en"):
        return _babel_fmt(value, currency.upper(), symbol, locale)
    sign = "-" if value < 0 else ""
    body = f"{abs(value):,}"
    prefix = _SYMBOLS.get(currency.upper(), currency.upper() + " ") if symbol else ""
    return f"{sign}{prefix}{body}"


_PATTERNS: dict[tuple[str, str, bool], tuple[Any, Any]] = {}  # (locale, currency, symbol) -> babel's


def _babel_fmt(value: Decimal, currency: str, symbol: bool, locale: str) -> str:
    """Return `value` as `locale` writes an amount of `currency`, through babel's CLDR data, with the
    exact number of decimals of the currency's ISO 4217 minor unit (CLDR's rounding digits differ)."""
    key = (locale, currency, symbol)
    cached = _PATTERNS.get(key)
    if cached is None:
        # babel (its locale data is large) only when an amount is written for a locale other than en_US
        from babel import Locale, UnknownLocaleError
        from babel.numbers import parse_pattern

        try:
            loc = Locale.parse(locale)
        except (UnknownLocaleError, ValueError):
            raise PipecliError(f"locale {locale!r} is not one babel knows (use it_IT, fr_FR, en_US...)") from None
        source = loc.currency_formats["standard"] if symbol else loc.decimal_formats[None]
        pattern = parse_pattern(source.pattern)
        places = exponent(currency)
        pattern.frac_prec = (places, places)
        cached = _PATTERNS[key] = (loc, pattern)
    text: str = cached[1].apply(value, cached[0], currency=currency if symbol else None, currency_digits=False)
    # CLDR's no-break spaces (4\u202f500,50\xa0€) are written as spaces: the one escaping of terminal output
    # (`formats.neutralise`) shows unprintable characters as escapes
    return text.replace("\u202f", " ").replace("\xa0", " ")


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
