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
    """Return an ISO (or other machine-written) date or time as an aware UTC moment: the standard library
    first, pendulum (slow to import) only for the forms it does not read."""
    stripped = text.strip()
    try:
        quick = _dt.datetime.fromisoformat(stripped)
    except ValueError:
        quick = None
    if quick is not None:
        try:
            return _plain(quick if quick.tzinfo else quick.astimezone())
        except (ValueError, OverflowError, OSError):
            raise PipecliError(f"{what}: {text!r} is too far away (use a date from {EARLIEST} to {LATEST})") from None
    # pendulum (slow to import) only when free text is read as a time
    import pendulum
    from pendulum.tz import get_local_timezone  # `pendulum.local_timezone` also names a module

    try:
        parsed: object = pendulum.parse(stripped, tz=get_local_timezone(), strict=False)
    except Exception:
        raise PipecliError(f"{what}: cannot read {text!r} as a date or time ({_FORMS})") from None
    if not isinstance(parsed, _dt.date):  # a duration or a time of day
        raise PipecliError(f"{what}: {text!r} is not a date or time")
    try:
        if isinstance(parsed, _dt.datetime):
            return _plain(parsed)
        return _plain(pendulum.datetime(parsed.year, parsed.month, parsed.day, tz=get_local_timezone()))
    except (ValueError, OverflowError, OSError) as exc:  # pendulum reads +25:00 and fails when it is used
        why = "its UTC offset is out of range" if "offset" in str(exc) else "it is too far away"
        raise PipecliError(f"{what}: cannot use {text!r}: {why}") from None


def _plain(moment: _dt.datetime) -> _dt.datetime:
    """Return `moment` as a stdlib UTC datetime (pendulum's subclasses do not bind in every driver)."""
    return _dt.datetime.fromtimestamp(moment.timestamp(), _dt.UTC)


# --- dates and times as people type them (the command line) ----------------------------------------------

SKEW = 300  # seconds an event's time may lie in the future: another machine's clock may run a little ahead
DATE_ORDERS = ("dmy", "mdy", "ymd")
_FORMS = "use 2026-11-28, '2026-11-28 14:30', today, 'tomorrow 10:00', 'next friday', '3 days ago', eom"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_UNITS = {
    "minute": "minute", "minutes": "minute", "min": "minute", "mins": "minute", "m": "minute",
    "hour": "hour", "hours": "hour", "h": "hour", "hr": "hour", "hrs": "hour",
    "day": "day", "days": "day", "d": "day",
    "week": "week", "weeks": "week", "w": "week", "wk": "week", "wks": "week",
    "month": "month", "months": "month", "mo": "month",
    "year": "year", "years": "year", "y": "year", "yr": "year", "yrs": "year",
}  # fmt: skip
# Patterns as text, compiled on first use by `re`'s own cache: importing the clock stays cheap for commands
# that read no typed date.
_RELATIVE = r"(?:(?P<ago>\d+)\s*(?P<u1>[a-z]+)\s+ago|in\s+(?P<in>\d+)\s*(?P<u2>[a-z]+))"
_TIME = r"(?:\s+(?:at\s+)?|\s*@\s*)(?P<h>\d{1,2})(?::(?P<m>\d{2}))?\s*(?P<ampm>am|pm)?$"
_SLASH = r"(\d{1,2})[/.](\d{1,2})(?:[/.](\d{4}|\d{2}))?"
_NAMED = r"(?:(\d{1,2})\s+([a-z]+)\.?|([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?),?(?:\s+(\d{4}))?"
_ENDS = {"eod": "day", "eow": "week", "eom": "month", "eoq": "quarter", "eoy": "year"}


def date_order() -> str | None:
    """Return how `05/06` is read: config `date_order` (dmy, mdy, ymd), else the one the locale writes
    (`config.locale`), else None (then an ambiguous date is refused)."""
    # the settings file is read only when a typed date needs its order: --version and --help stay light
    from pipecli import config

    return config.date_order()


def day_order(flag: bool | None = None, *, for_file: bool = False) -> DayOrder:
    """Return the `DayOrder` typed dates and files are read in: the flag (`--dayfirst`) when given, else
    the configured order. A file's dates may come from another system, so for a file only the config's
    explicit `date_order` settles it, not the locale's."""
    if flag is not None:
        return DayOrder(flag)
    # the settings file is read only when a typed date needs its order: --version and --help stay light
    from pipecli import config

    order = config.top().date_order if for_file else date_order()
    return DayOrder(None if order is None else order == "dmy")


def _midnight(day: _dt.date, text: str, what: str) -> _dt.datetime:
    _in_range(day, text, what)
    return _dt.datetime.fromtimestamp(day_start_ts(day), _dt.UTC)


def _shift(base: _dt.datetime, n: int, unit: str, text: str, what: str) -> _dt.datetime:
    """Return `base` moved by `n` units (calendar months and years keep the day, clamped to the month's
    end), or raise PipecliError when that leaves the dates a pipeline may have."""
    try:
        if unit in ("minute", "hour", "day", "week"):
            return base + _dt.timedelta(**{unit + "s": n})
        local = base.astimezone()
        months = local.year * 12 + local.month - 1 + (n if unit == "month" else 12 * n)
        year, month = divmod(months, 12)
        last = _month_end(_dt.date(year, month + 1, 1)).day
        moved = local.replace(year=year, month=month + 1, day=min(local.day, last))
        return moved.astimezone(_dt.UTC)
    except (ValueError, OverflowError):
        raise PipecliError(f"{what}: {text!r} is too far away (use a date from {EARLIEST} to {LATEST})") from None


def _month_end(day: _dt.date) -> _dt.date:
    first_next = _dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_next - _dt.timedelta(days=1)


def _end_of(period: str, day: _dt.date) -> _dt.date:
    """Return the last day of the `period` (day, week: the coming Friday, month, quarter, year) of `day`."""
    if period == "day":
        return day
    if period == "week":
        return day + _dt.timedelta(days=(4 - day.weekday()) % 7)
    if period == "month":
        return _month_end(day)
    if period == "quarter":
        return _month_end(_dt.date(day.year, (day.month - 1) // 3 * 3 + 3, 1))
    return _dt.date(day.year, 12, 31)


def _weekday(word: str) -> int | None:
    for i, name in enumerate(_WEEKDAYS):
        if len(word) >= 3 and name.startswith(word):
            return i
    return None


def _month(word: str) -> int | None:
    for i, name in enumerate(_FULL_MONTHS):
        if len(word) >= 3 and (name.startswith(word) or (word == "sept" and i == 8)):
            return i + 1
    return None


_FULL_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip


def _year_for(month: int, day: int, text: str, what: str, event: bool) -> _dt.date:
    """Return the date of a day and month given without a year: this year's, or the nearest one in the
    direction the option looks (an event's in the past, a plan's in the future)."""
    today_ = today()
    for year in (today_.year, today_.year - 1 if event else today_.year + 1):
        try:
            candidate = _dt.date(year, month, day)
        except ValueError:
            raise PipecliError(f"{what}: {text!r} is not a valid date") from None
        if (candidate <= today_) if event else (candidate >= today_):
            return candidate
    return candidate


def _slash_date(match: re.Match[str], text: str, what: str, event: bool) -> _dt.date:
    """Return a `05/06`, `05/06/2027` or `5.6.27` date read in the configured day order; raise when the
    order is not configured and the date reads two ways (the importer's rule, `DayOrder`)."""
    a, b, year = int(match.group(1)), int(match.group(2)), match.group(3)
    order = day_order()
    dayfirst = order.dayfirst
    if dayfirst is None:
        if a > 12 >= b or b > 12 >= a:
            dayfirst = a > 12
        elif a != b:
            raise PipecliError(
                f"{what}: {text!r} reads as day/month or month/day; write it as YYYY-MM-DD, or set "
                'date_order = "dmy" (or "mdy") in the config file (pipecli config path)'
            )
        else:
            dayfirst = True
    day, month = (a, b) if dayfirst else (b, a)
    if not 1 <= month <= 12:
        raise PipecliError(f"{what}: {text!r} is not a valid date (read {'day' if dayfirst else 'month'} first)")
    if year is None:
        return _year_for(month, day, text, what, event)
    y = int(year) + (2000 if len(year) == 2 else 0)
    try:
        return _dt.date(y, month, day)
    except ValueError:
        raise PipecliError(
            f"{what}: {text!r} is not a valid date (read {'day' if dayfirst else 'month'} first)"
        ) from None


def _day_words(word: str, text: str, what: str, event: bool) -> _dt.date | None:
    """Return the date a day-naming phrase means (`today`, `next friday`, `eom`, `05/06`, `5 june`), or
    None when `word` is none of them."""
    today_ = today()
    simple = {"today": 0, "yesterday": -1, "tomorrow": 1}
    if word in simple:
        return today_ + _dt.timedelta(days=simple[word])
    if word in _ENDS:
        return _end_of(_ENDS[word], today_)
    if word.startswith("end of "):
        period = word[7:].removeprefix("the ").removeprefix("this ")
        if period in ("day", "week", "month", "quarter", "year"):
            return _end_of(period, today_)
        return None
    parts = word.split()
    if len(parts) in (1, 2) and (len(parts) == 1 or parts[0] in ("next", "last", "this")):
        wd = _weekday(parts[-1])
        if wd is not None:
            ahead = (wd - today_.weekday()) % 7
            behind = (today_.weekday() - wd) % 7
            direction = parts[0] if len(parts) == 2 else ("last" if event else "this")
            if direction == "next":
                return today_ + _dt.timedelta(days=ahead or 7)
            if direction == "last":
                return today_ - _dt.timedelta(days=behind or (7 if len(parts) == 2 else 0))
            return today_ + _dt.timedelta(days=ahead)
        if len(parts) == 2 and parts[1] in ("week", "month", "year"):
            step = 1 if parts[0] == "next" else (-1 if parts[0] == "last" else 0)
            return _shift(_midnight(today_, text, what), step, parts[1], text, what).astimezone().date()
    m = re.fullmatch(_SLASH, word)
    if m:
        return _slash_date(m, text, what, event)
    m = re.fullmatch(_NAMED, word)
    if m:
        day_text, month_word = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
        month = _month(month_word)
        if month is None:
            return None
        if m.group(5) is None:
            return _year_for(month, int(day_text), text, what, event)
        try:
            return _dt.date(int(m.group(5)), month, int(day_text))
        except ValueError:
            raise PipecliError(f"{what}: {text!r} is not a valid date") from None
    return None


def parse_when(text: str, what: str = "--at", *, event: bool = False) -> _dt.datetime:
    """Return the aware UTC moment meant by `text`, as people type it on the command line.

    ISO dates and times (local time unless they say otherwise); `now`; `today`, `yesterday`, `tomorrow`
    (local midnight), each optionally with a time (`tomorrow 10:00`, `today 3pm`); weekdays (`next friday`
    after today, `last monday` before today, `friday` the nearest one in the option's direction); `eod`,
    `eow` (the coming Friday), `eom`, `eoq`, `eoy` and `end of month`...; `3 days ago`, `in 2 weeks`,
    `in 3d`; `05/06`, `05/06/2027` and `5.6.27` in the configured `date_order` (refused when ambiguous
    and no order is set); `5 june`, `june 5 2027`.

    `event` marks the time something happened (`--at`): a bare weekday or year-less date then looks back,
    and a moment more than `SKEW` seconds in the future is refused, since a typo there silently changes
    scores and the silent list. Plans (expected close, follow-ups) may lie in the future."""
    word = " ".join(text.strip().lower().split())
    current = now()
    moment = _words(word, text, what, event, current)
    if moment is None:
        if not word:
            raise PipecliError(f"{what}: a date or time is needed ({_FORMS})")
        if re.search(r"[a-z]{3,}", word) and not re.fullmatch(r"[0-9t:+\-. z/]+", word):
            raise PipecliError(f"{what}: cannot read {text!r} as a date or time ({_FORMS})")
        moment = _parse_absolute(text, what)
    _in_range(moment.date(), text, what)
    if event and moment.timestamp() > current.timestamp() + SKEW:
        raise PipecliError(
            f"{what}: {text!r} is {show(int(moment.timestamp()))}, in the future; "
            "the time something happened cannot be later than now"
        )
    return moment


def _words(word: str, text: str, what: str, event: bool, current: _dt.datetime) -> _dt.datetime | None:
    """Return the moment of a phrase in words (or a slash date), or None for machine forms left to
    `_parse_absolute`."""
    if word == "now":
        return current
    m = re.fullmatch(_RELATIVE, word)
    if m:
        count, unit_word = (m.group("ago"), m.group("u1")) if m.group("ago") else (m.group("in"), m.group("u2"))
        unit = _UNITS.get(unit_word)
        if unit is None:
            raise PipecliError(f"{what}: {unit_word!r} in {text!r} is not a unit (minutes, hours, days, weeks, ...)")
        n = int(count)
        if n > 10**6:
            raise PipecliError(f"{what}: {text!r} is too far away (use a date from {EARLIEST} to {LATEST})")
        return _shift(current, -n if m.group("ago") else n, unit, text, what)
    clock_time = None
    t = re.search(_TIME, word)
    if t and (t.group("m") or t.group("ampm")) and t.start() > 0:
        hour, minute = int(t.group("h")), int(t.group("m") or 0)
        if t.group("ampm"):
            if not 1 <= hour <= 12:
                raise PipecliError(f"{what}: {text!r} has no such time")
            hour = hour % 12 + (12 if t.group("ampm") == "pm" else 0)
        if hour > 23 or minute > 59:
            raise PipecliError(f"{what}: {text!r} has no such time")
        clock_time = (hour, minute)
        day_word = word[: t.start()].strip()
    else:
        day_word = word
    day = _day_words(day_word, text, what, event)
    if day is None:
        return None
    start = _midnight(day, text, what)
    if clock_time is None:
        return start
    local = _dt.datetime(day.year, day.month, day.day, *clock_time)  # naive: local time
    return _dt.datetime.fromtimestamp(local.timestamp(), _dt.UTC)


def in_words(text: str) -> bool:
    """Return True when `text` is a phrase (`yesterday`, `next friday`, `3 days ago`, `05/06`) rather than
    an ISO date or time: the commands that record an event then say which moment they recorded."""
    stripped = text.strip()
    try:
        _dt.datetime.fromisoformat(stripped)
    except ValueError:
        return True
    return False


def parse_ts(text: str, what: str = "--at", *, event: bool = False) -> int:
    """Return `parse_when(text)` as integer epoch seconds."""
    return int(parse_when(text, what, event=event).timestamp())


def parse_date(text: str, what: str = "date") -> _dt.date:
    """Return the local calendar date meant by `text` (an ISO date, or any form `parse_when` accepts):
    the grammar of planning dates (expected close, follow-ups, report days), which may lie ahead."""
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
                    hours, minutes = int(digits[:2]), int(digits[2:])
                    if hours > 23 or minutes > 59:
                        raise BadDate("its UTC offset is out of range (real ones lie between -12:00 and +14:00)")
                    tz = _dt.timezone(sign * _dt.timedelta(hours=hours, minutes=minutes))
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
