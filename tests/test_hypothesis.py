"""Property-based tests: random command arguments (and, with the importer, random CSV files) never
produce a traceback; a command either succeeds or exits 1/2 with one line, and a failed command leaves
the database as it was."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# PIPECLI_FUZZ_EXAMPLES=1000 for a long hunt; the suite keeps it modest.
EXAMPLES = int(os.environ.get("PIPECLI_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

COMMANDS = [
    ["add-lead"], ["move"], ["edit"], ["log"], ["list"], ["show"], ["board"], ["delete"], ["forget"],
    ["pipeline", "add"], ["pipeline", "stage"], ["pipeline", "add-stage"], ["pipeline", "remove-stage"],
    ["pipeline", "rename"], ["pipeline", "default"], ["pipeline", "show"], ["db", "path"],
]
OPTIONS = [
    "--value", "--email", "--expected-close", "--at", "--stage", "--pipeline", "--note", "--reason",
    "--sort", "--limit", "--status", "--owner", "--format", "--per-stage", "--probability", "--stale-days",
    "--position", "--stages", "--rename", "--triggers", "--yes", "--company", "--phone", "--source", "--archived",
]
ODD_VALUES = [
    "", " ", "-", "--", "-1", "0", "1", "2", "99999999999999999999999", "1e309", "nan", "inf", "-0",
    "won", "lost", "Contact", "Sales", "2026-02-30", "2026-13-01", "yesterday", "3 days ago", "9999-12-31",
    "0001-01-01", "1,5", "4.500,00", "€12", "12 EUR", "1_000", "0x10", "json", "csv", "table", "value",
    "a@b.co", "@", "x@y", "'; DROP TABLE lead; --", "\x1b[31m", "Zoë", "\u202e", "%s", "{0}",
]
argument = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.sampled_from(OPTIONS),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.text(max_size=30).filter(lambda s: "\x00" not in s),  # a real argv cannot hold NUL
)


def assert_clean_exit(result, args) -> None:
    """The command ended the way pipecli promises: exit 0, 1 or 2, one message, no traceback."""
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.stderr, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, repr(result.exception))
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, args
    assert "internal error" not in result.stderr, (args, result.stderr)


def run_unchanged_on_failure(cli, args: list[str]) -> None:
    """Run pipecli with `args` on a database holding one lead; check the exit, and that a failure
    changed nothing."""
    if not hasattr(cli, "seeded"):
        cli("add-lead", "Seed", "--value", "100", "--email", "seed@example.com")
        cli.seeded = True
    before = cli.every_row()
    result = cli(*args, ok=False)
    assert_clean_exit(result, args)
    if result.exit_code != 0:
        assert cli.every_row() == before, (args, result.stderr)


@FUZZ
@given(command=st.sampled_from(COMMANDS), args=st.lists(argument, max_size=6))
def test_random_arguments_never_crash(cli, command, args):
    run_unchanged_on_failure(cli, command + args)


X = None  # a slot filled with a random argument
TEMPLATES = [
    ["add-lead", X, "--value", X], ["add-lead", "N", "--expected-close", X, "--at", X], ["add-lead", "N", "--email", X],
    ["move", "1", X, "--at", X], ["move", "1", "lost", "--reason", X], ["edit", "1", "--value", X, "--email", X],
    ["edit", "1", "--expected-close", X, "--name", X], ["log", "1", X, "--at", X, "--note", X],
    ["list", "--sort", X, "--limit", X, "--status", X], ["board", "--per-stage", X, "--pipeline", X],
    ["pipeline", "stage", "Sales", X, "--probability", X, "--stale-days", X, "--position", X],
    ["pipeline", "add", X, "--stages", X], ["pipeline", "add-stage", "Sales", X, "--position", X],
    ["show", X, "--format", X], ["forget", X, "--yes"], ["delete", X, "--yes"], ["list", "--owner", X, "--format", X],
]


@FUZZ
@given(template=st.sampled_from(TEMPLATES), data=st.data())
def test_random_values_in_well_formed_commands(cli, template, data):
    run_unchanged_on_failure(cli, [data.draw(argument) if slot is X else slot for slot in template])
