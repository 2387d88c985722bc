"""The date grammar of data files (`clock.DayOrder`, `clock.DateColumn`), at core level: pure functions,
no database. The clock runs in UTC (conftest sets TZ), so a naive datetime's epoch seconds are UTC's."""

from __future__ import annotations

import datetime as _dt

import pytest

from pipecli import clock
from pipecli.errors import PipecliError

UTC = _dt.UTC


def column(dayfirst: bool | None = None) -> clock.DateColumn:
    return clock.DateColumn("created", clock.DayOrder(dayfirst))


def test_an_iso_date_is_midnight_and_an_iso_time_keeps_its_offset():
    moment = column().parse("2026-03-05")
    assert moment.moment == _dt.datetime(2026, 3, 5)  # naive: local time
    assert moment.date == _dt.date(2026, 3, 5)
    # 2026-03-05 00:00 UTC: 56 years after 1970 with 14 leap days (1972..2024), then Jan 31 + Feb 28 + 4 days
    assert moment.ts == ((56 * 365 + 14) + 31 + 28 + 4) * 86400
    aware = column().parse("2026-03-05T10:30:00+02:00")
    assert aware.moment.utcoffset() == _dt.timedelta(hours=2)
    assert aware.ts == moment.ts + 8 * 3600 + 30 * 60  # 10:30 at +02:00 is 08:30 UTC
    assert column().parse("2026-03-05T10:30Z").ts == moment.ts + 10 * 3600 + 30 * 60
    assert column().parse("2026/3/5 7:05").moment == _dt.datetime(2026, 3, 5, 7, 5)


def test_slash_dates_follow_the_flag():
    assert column(dayfirst=True).parse("05/06/2026").date == _dt.date(2026, 6, 5)
    assert column(dayfirst=False).parse("05/06/2026").date == _dt.date(2026, 5, 6)
    assert column(dayfirst=True).parse("28.11.2026 14:30").moment == _dt.datetime(2026, 11, 28, 14, 30)


def test_the_first_unambiguous_date_settles_the_order_for_every_column_of_the_file():
    order = clock.DayOrder(None)
    created, closed = clock.DateColumn("created", order), clock.DateColumn("closed", order)
    assert created.parse("03/03/2026").date == _dt.date(2026, 3, 3)  # same either way: settles nothing
    assert order.dayfirst is None
    assert created.parse("25/12/2026").date == _dt.date(2026, 12, 25)  # 25 can only be a day
    assert order.dayfirst is True
    assert closed.parse("01/02/2026").date == _dt.date(2026, 2, 1)  # read day-first from now on


def test_an_ambiguous_date_before_the_order_is_known_is_refused():
    with pytest.raises(clock.BadDate, match="ambiguous date"):
        column().parse("05/06/2026")


def test_learn_settles_the_order_from_a_sample_or_says_which_column_is_ambiguous():
    order = clock.DayOrder(None)
    order.learn({"created": ["2026-01-01", "05/06/2026", "12/31/2026"]})
    assert order.dayfirst is False  # 31 is the second part: month-first
    flagged = clock.DayOrder(True)
    flagged.learn({"created": ["12/31/2026"]})
    assert flagged.dayfirst is True  # the flag wins over the sample
    with pytest.raises(PipecliError, match="column 'closed' has dates like '05/06/2026'"):
        clock.DayOrder(None).learn({"closed": ["05/06/2026", "07/07/2026"]})
    none = clock.DayOrder(None)
    none.learn({"created": ["2026-05-06", "07/07/2026"]})  # nothing ambiguous, nothing settled
    assert none.dayfirst is None


def test_bad_dates_say_why():
    with pytest.raises(clock.BadDate, match=r"not a date \(use 2026-11-28"):
        column().parse("next week")
    with pytest.raises(clock.BadDate, match=r"^not a valid date$"):
        column().parse("2026-02-30")
    with pytest.raises(clock.BadDate, match=r"not a valid date \(read day-first\)"):
        column(dayfirst=True).parse("31/02/2026")
    with pytest.raises(clock.BadDate, match=r"not a valid date \(read month-first\)"):
        column(dayfirst=False).parse("02/31/2026")


def test_a_column_remembers_the_cells_it_read():
    dates = column()
    first = dates.parse(" 2026-03-05 ")
    assert dates.cache == {" 2026-03-05 ": first}
    assert dates.parse(" 2026-03-05 ") is first


def test_is_iso_date():
    assert clock.is_iso_date("2026-03-05") and clock.is_iso_date("2026-03-05T10:30:00+0200")
    assert not clock.is_iso_date("05/03/2026") and not clock.is_iso_date("2026-03")


# --- the command line's grammar (`parse_when`): frozen at Saturday 2026-11-28 09:00 UTC by conftest ------


@pytest.mark.parametrize(
    "typed, event, expected",
    [
        ("today", False, _dt.datetime(2026, 11, 28)),
        ("tomorrow 10:00", False, _dt.datetime(2026, 11, 29, 10)),
        ("yesterday 3pm", True, _dt.datetime(2026, 11, 27, 15)),
        ("next friday", False, _dt.datetime(2026, 12, 4)),
        ("last monday", True, _dt.datetime(2026, 11, 23)),
        ("saturday", True, _dt.datetime(2026, 11, 28)),  # today is the nearest Saturday either way
        ("monday", False, _dt.datetime(2026, 11, 30)),
        ("monday", True, _dt.datetime(2026, 11, 23)),
        ("in 3 days", False, _dt.datetime(2026, 12, 1, 9)),
        ("2 hours ago", True, _dt.datetime(2026, 11, 28, 7)),
        ("in 1 month", False, _dt.datetime(2026, 12, 28, 9)),
        ("end of month", False, _dt.datetime(2026, 11, 30)),
        ("EOQ", False, _dt.datetime(2026, 12, 31)),
        ("eow", False, _dt.datetime(2026, 12, 4)),
        ("13/03/2027", False, _dt.datetime(2027, 3, 13)),
        ("june 5", True, _dt.datetime(2026, 6, 5)),
        ("5 june", False, _dt.datetime(2027, 6, 5)),
        ("2026-11-20 15:00", True, _dt.datetime(2026, 11, 20, 15)),
    ],
)
def test_words_and_dates_people_type(typed, event, expected):
    assert clock.parse_when(typed, event=event) == expected.replace(tzinfo=UTC)


def test_months_keep_their_day_or_clamp_to_the_month_end():
    clock.freeze(_dt.datetime(2027, 1, 31, 12, tzinfo=UTC))
    assert clock.parse_when("in 1 month") == _dt.datetime(2027, 2, 28, 12, tzinfo=UTC)
    assert clock.parse_when("1 year ago") == _dt.datetime(2026, 1, 31, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    "typed, match",
    [
        ("05/06", "date_order"),
        ("in 99999 years", "too far away"),
        ("in 3 fortnights", "not a unit"),
        ("tomorrow 25:00", "no such time"),
        ("someday", "cannot read"),
        ("31/02/2027", "not a valid date"),
    ],
)
def test_what_the_grammar_refuses_in_one_line(typed, match):
    with pytest.raises(PipecliError, match=match):
        clock.parse_when(typed)


def test_an_event_may_not_lie_beyond_the_clock_skew():
    assert clock.parse_when("in 4 minutes", event=True)
    with pytest.raises(PipecliError, match="in the future"):
        clock.parse_when("in 6 minutes", event=True)
    assert clock.parse_when("in 6 minutes") > clock.now()  # a plan may


def test_only_phrases_are_in_words():
    assert clock.in_words("yesterday") and clock.in_words("05/06") and clock.in_words("3 days ago")
    assert not clock.in_words("2026-11-28") and not clock.in_words("2026-11-28T10:00+01:00")
