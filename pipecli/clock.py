"""The one clock: every "now" in pipecli comes from here, and every user-typed time is parsed here.

Times are stored as integer seconds since the Unix epoch (UTC) and dates as ISO dates; they are shown in
local time. "Now" can be frozen by tests (`freeze`) or by scripts (`PIPECLI_NOW=2026-11-28T09:00`), so
reports over a constructed history are repeatable.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
from typing import NamedTuple, overload

from pipecli.errors import PipecliError

DAY = 86400  # seconds in a day: durations in days are seconds / DAY

_frozen: _dt.datetime | None = None

_RELATIVE = re.compile(
    r"^(?:(?P<n>\d+)\s*(?P<unit>minute|hour|day|week|month|year)s?\s+ago"
    r"|in\s+(?P<n2>\d+)\s*(?P<unit2>minute|hour|day|week|month|year)s?)$"
)


def freeze(moment: str | _dt.datetime | None) -> None:
    """Freeze "now" at `moment` (a datetime, or text `parse_when` accepts); None thaws the clock."""
    global _frozen
    if moment is None or isinstance(moment, _dt.datetime):
        _frozen = moment
    else:
        _frozen = None
        _frozen = parse_when(moment)


def now() -> _dt.datetime:
    """Return the current moment as an aware UTC datetime (frozen, from PIPECLI_NOW, or the real time)."""
    if _frozen is not None:
        return _frozen.astimezone(_dt.UTC)
    env = os.environ.get("PIPECLI_NOW")
    if env:
        return _parse_absolute(env, "PIPECLI_NOW")
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0)


def now_ts() -> int:
    """Return the current moment as integer epoch seconds."""
    return int(now().timestamp())


def today() -> _dt.date:
    """Return today's date in local time."""
    return now().astimezone().date()


EARLIEST, LATEST = _dt.date(1900, 1, 1), _dt.date(2999, 12, 31)  # the dates a pipeline's events may have


def _in_range(day: _dt.date, text: str, what: str) -> None:
    """Raise PipecliError when `day` is outside EARLIEST..LATEST: a date thousands of years away is a typo,
    and the reports' calendar arithmetic (the next day, the period after) would leave Python's range."""
    if not EARLIEST <= day <= LATEST:
        raise PipecliError(f"{what}: {text!r} is too far away (use a date from {EARLIEST} to {LATEST})")


def _parse_absolute(text: str, what: str) -> _dt.datetime:
    # pendulum (slow to import) only when free text is read as a time
    import pendulum
    from pendulum.tz import get_local_timezone  # `pendulum.local_timezone` also names a module

    try:
        parsed: object = pendulum.parse(text.strip(), tz=get_local_timezone(), strict=False)
    except Exception:
        raise PipecliError(
            f"{what}: cannot read {text!r} as a date or time "
            "(use 2026-11-28, 2026-11-28T14:30, today, yesterday, '3 days ago')"
        ) from None
    if not isinstance(parsed, _dt.date):  # a duration or a time of day
        raise PipecliError(f"{what}: {text!r} is not a date or time")
    try:
        if isinstance(parsed, _dt.datetime):
            return _plain(parsed)
        return _plain(pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=get_local_timezone()))
    except (ValueError, OverflowError, OSError) as exc:  # pendulum reads +25:00 and fails when it is used
        why = "its UTC offset is out of range" if "offset" in str(exc) else "it is too far away"
        raise PipecliError(f"{what}: cannot use {text!r}: {why}") from None


def _shift(base: _dt.datetime, n: int, unit: str) -> _dt.datetime:
    # pendulum (slow to import) only when free text is read as a time
    import pendulum

    moment = pendulum.instance(base).add(**{unit + "s": n})
    return _plain(moment)


def _plain(moment: _dt.datetime) -> _dt.datetime:
    """Return `moment` as a stdlib UTC datetime (pendulum's subclasses do not bind in every driver)."""
    return _dt.datetime.fromtimestamp(moment.timestamp(), _dt.UTC)


def parse_when(text: str, what: str = "--at") -> _dt.datetime:
    """Return the aware UTC moment meant by `text`: ISO date or datetime (local time unless it says
    otherwise), `now`, `today`/`yesterday`/`tomorrow` (local midnight), `3 days ago`, `in 2 weeks`."""
    word = text.strip().lower()
    current = now()
    if word == "now":
        return current
    if word in ("today", "yesterday", "tomorrow"):
        offset = {"today": 0, "yesterday": -1, "tomorrow": 1}[word]
        day = today() + _dt.timedelta(days=offset)
        return _dt.datetime.fromtimestamp(day_start_ts(day), _dt.UTC)
    match = _RELATIVE.match(word)
    if match:
        if match.group("n") is not None:
            n, unit = -int(match.group("n")), match.group("unit")
        else:
            n, unit = int(match.group("n2")), match.group("unit2")
        try:
            moment = _shift(current, n, unit).astimezone(_dt.UTC)
        except (ValueError, OverflowError):
            raise PipecliError(f"{what}: {text!r} is too far away") from None
    else:
        moment = _parse_absolute(text, what)
    _in_range(moment.date(), text, what)
    return moment


def parse_ts(text: str, what: str = "--at") -> int:
    """Return `parse_when(text)` as integer epoch seconds."""
    return int(parse_when(text, what).timestamp())


def parse_date(text: str, what: str = "date") -> _dt.date:
    """Return the local calendar date meant by `text` (an ISO date, or any form `parse_when` accepts)."""
    stripped = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", stripped):
        try:
            day = _dt.date.fromisoformat(stripped)
        except ValueError:
            raise PipecliError(f"{what}: {text!r} is not a valid date (use YYYY-MM-DD)") from None
        _in_range(day, text, what)
        return day
    local = parse_when(stripped, what).astimezone()
    return _dt.date(local.year, local.month, local.day)


def as_date(value: object) -> _dt.date:
    """Return a DATE column's value as a plain date: drivers give a date (PostgreSQL) or ISO text (SQLite),
    and no driver binds a date subclass such as pendulum's."""
    if isinstance(value, _dt.date):
        return _dt.date(value.year, value.month, value.day)
    return _dt.date.fromisoformat(str(value))


def end_of_day_ts(day: _dt.date) -> int:
    """Return the epoch seconds of the last second of `day` in local time (for `--as-of DATE`)."""
    return day_start_ts(day + _dt.timedelta(days=1)) - 1


def day_start_ts(day: _dt.date) -> int:
    """Return the epoch seconds of local midnight at the start of `day`."""
    return int(_dt.datetime(day.year, day.month, day.day).timestamp())  # a naive datetime is local time


def from_ts(ts: int) -> _dt.datetime:
    """Return epoch seconds as an aware datetime in local time."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).astimezone()


@overload
def iso(ts: int) -> str: ...
@overload
def iso(ts: None) -> None: ...
def iso(ts: int | None) -> str | None:
    """Return epoch seconds as an ISO 8601 string with the local UTC offset (for JSON and CSV)."""
    return None if ts is None else from_ts(ts).isoformat()


def show(ts: int | None) -> str:
    """Return epoch seconds as a short local time for tables: `2026-11-28 14:30`."""
    return "" if ts is None else from_ts(ts).strftime("%Y-%m-%d %H:%M")


def human_duration(seconds: int | float) -> str:
    """Return a compact duration: `3d 4h`, `5h 10m`, `45m`."""
    seconds = int(seconds)
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m"


# --- dates in data files (CSV columns) -----------------------------------------------------------------
# A file's dates are read by a grammar of their own, not `parse_when`'s: no words, no relative times, no
# local-time guessing per cell, and day-first vs month-first decided once for the whole file (`DayOrder`).

_ISO = re.compile(
    r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(Z|[+-]\d{2}:?\d{2})?"
)
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:[T ]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_CACHE_LIMIT = 50000  # distinct cells a column remembers: dates repeat, a million rows hold few of them


class BadDate(PipecliError):
    """A cell that is not a date, or not one that reads only one way: the reason, for the row's error."""


class Moment(NamedTuple):
    """A date cell read: the datetime (aware when the text gives an offset, naive local time otherwise),
    its epoch seconds, and its calendar date."""

    moment: _dt.datetime
    ts: int
    date: _dt.date


def is_iso_date(text: str) -> bool:
    """Return True when `text` is an ISO date or datetime, which reads the same whatever the day order."""
    return _ISO.fullmatch(text) is not None


class DayOrder:
    """A file's order of dd/mm/yyyy vs mm/dd/yyyy dates, shared by its date columns: the flag (`dayfirst`
    True or False), else the first value that settles it (a part above 12), in a sample or later."""

    def __init__(self, dayfirst: bool | None) -> None:
        self.dayfirst = dayfirst

    def learn(self, columns: dict[str, list[str]]) -> None:
        """Settle the order from sample values (header -> cells); raise when slash dates are there and
        none settles it."""
        if self.dayfirst is not None:
            return
        ambiguous = None
        for header, values in columns.items():
            for value in values:
                m = _DMY.fullmatch(value.strip())
                if not m:
                    continue
                a, b = int(m.group(1)), int(m.group(2))
                if a > 12 >= b or b > 12 >= a:
                    self.dayfirst = a > 12
                    return
                if a != b:
                    ambiguous = ambiguous or (header, value)
        if ambiguous:
            raise PipecliError(
                f"column {ambiguous[0]!r} has dates like {ambiguous[1]!r} that read either day-first or "
                "month-first; pass --dayfirst or --monthfirst"
            )


class DateColumn:
    """Reads one column's dates: ISO (with or without time and offset), or day-first / month-first in
    the file's `DayOrder`; remembers the cells it read (`cache`), which repeat in a big file."""

    def __init__(self, header: str, order: DayOrder) -> None:
        self.header, self.order = header, order
        self.cache: dict[str, Moment] = {}

    def parse(self, raw: str) -> Moment:
        """Return the `Moment` of `raw` (a date alone means midnight), or raise BadDate saying why not;
        a first unambiguous slash date settles the file's day order."""
        hit = self.cache.get(raw)
        if hit is not None:
            return hit
        result = self._parse(raw.strip())
        if len(self.cache) > _CACHE_LIMIT:
            self.cache.clear()
        self.cache[raw] = result
        return result

    def _parse(self, value: str) -> Moment:
        m = _ISO.fullmatch(value)
        tz = None
        if m:
            y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
            hh, mm, ss, off = m.group(4), m.group(5), m.group(6), m.group(7)
            if off:
                if off == "Z":
                    tz = _dt.UTC
                else:
                    sign = -1 if off[0] == "-" else 1
                    digits = off[1:].replace(":", "")
                    tz = _dt.timezone(sign * _dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
        else:
            m = _DMY.fullmatch(value)
            if not m:
                raise BadDate("not a date (use 2026-11-28, 28/11/2026 or 11/28/2026)")
            a, b, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
            hh, mm, ss = m.group(4), m.group(5), m.group(6)
            order = self.order
            if order.dayfirst is None:
                if a > 12 >= b or b > 12 >= a:
                    order.dayfirst = a > 12
                elif a != b:
                    raise BadDate("ambiguous date (day-first or month-first?); pass --dayfirst or --monthfirst")
            d, mo = (a, b) if order.dayfirst or order.dayfirst is None else (b, a)
        try:
            moment = _dt.datetime(y, mo, d, int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=tz)
        except ValueError:
            read = {True: " (read day-first)", False: " (read month-first)"}
            raise BadDate(
                f"not a valid date{'' if self.order.dayfirst is None else read[self.order.dayfirst]}"
            ) from None
        return Moment(moment, int(moment.timestamp()), moment.date())
