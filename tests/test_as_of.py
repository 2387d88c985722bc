"""`--as-of` reads the pipeline as it was: reports snapshotted at the end of each day of a scripted
history (values, owners, close dates, stages changing) equal the same reports run later with `--as-of`."""

from __future__ import annotations

import json

import pytest

# `list` shows every column but the score (a past day's score was never recorded; `--as-of` shows none)
LISTED = "id,name,company,stage,status,value,owner,source,expected_close,last_event_at,email,created_at,next_step"
REPORTS = (
    ["metrics"],
    ["funnel"],
    ["forecast", "--runs", "200"],
    ["board"],
    ["list", "--status", "all", "--columns", LISTED],
)
MOMENT_KEYS = {"as_of", "from_history", "generated_at"}


def comparable(data):
    """Drop what says when and how a report was made (not what it found)."""
    if isinstance(data, dict):
        return {k: comparable(v) for k, v in data.items() if k not in MOMENT_KEYS}
    if isinstance(data, list):
        return [comparable(v) for v in data]
    return data


def run(cli, args, *extra):
    return comparable(json.loads(cli(*args, *extra, "--format", "json").stdout))


def test_reports_as_of_a_day_equal_what_they_said_that_day(cli, monkeypatch):
    days = {}

    def day(n, *commands):
        monkeypatch.setenv("PIPECLI_NOW", f"2026-10-{n:02d} 10:00")
        for command in commands:
            cli(*command)
        monkeypatch.setenv("PIPECLI_NOW", f"2026-10-{n:02d} 23:59:59")
        days[n] = {" ".join(r): run(cli, r) for r in REPORTS}

    day(1, ["add-lead", "A", "--value", "1000", "--owner", "ann", "--expected-close", "2026-10-20"],
        ["add-lead", "B", "--value", "2000", "--owner", "bob"], ["add-lead", "C", "--value", "500"])  # fmt: skip
    day(2, ["move", "1", "Meeting"], ["edit", "2", "--value", "2500", "--owner", "ann"])
    day(3, ["move", "2", "won"], ["edit", "1", "--value", "1200", "--expected-close", "2026-11-15"])
    day(4, ["move", "3", "lost", "--reason", "price"], ["add-lead", "D", "--value", "50"], ["log", "2", "call"],
        ["edit", "4", "--name", "Dee", "--email", "d@example.com", "--source", "web"])  # fmt: skip
    day(5, ["move", "3", "Contact"], ["edit", "1", "--value", "900"], ["move", "1", "Proposal"])
    monkeypatch.setenv("PIPECLI_NOW", "2026-10-20 10:00")
    cli("edit", "1", "--value", "99999", "--owner", "zed", "--name", "Renamed", "--source", "fair")
    cli("log", "4", "meeting")
    cli("move", "4", "won")
    for n, reports in days.items():
        for args in REPORTS:
            assert run(cli, args, "--as-of", f"2026-10-{n:02d}") == reports[" ".join(args)], (n, args)


@pytest.mark.parametrize("moment", ["2027-01-01", "2020-01-01"])
def test_as_of_outside_what_the_database_knows_is_refused(cli, monkeypatch, moment):
    monkeypatch.setenv("PIPECLI_NOW", "2026-10-05 10:00")
    cli("add-lead", "A", "--value", "1")
    for report in ("metrics", "funnel", "forecast", "board", "list"):
        result = cli(report, "--as-of", moment, ok=False)
        assert result.exit_code == 1, result.stderr
        assert "future" in result.stderr or "before the database's first record" in result.stderr
