"""Property-based tests: random command arguments and random CSV files never produce a traceback; a
command either succeeds or exits 1/2 with one line, a failed command leaves the database as it was, and
every imported row is either stored exactly or rejected with a reason."""

from __future__ import annotations

import csv
import io
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# PIPECLI_FUZZ_EXAMPLES=1000 for a long hunt; the suite keeps it modest.
EXAMPLES = int(os.environ.get("PIPECLI_FUZZ_EXAMPLES", "40"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

COMMANDS = [
    ["add-lead"],
    ["move"],
    ["edit"],
    ["log"],
    ["list"],
    ["show"],
    ["board"],
    ["delete"],
    ["forget"],
    ["pipeline", "add"],
    ["pipeline", "stage"],
    ["pipeline", "add-stage"],
    ["pipeline", "remove-stage"],
    ["pipeline", "rename"],
    ["pipeline", "default"],
    ["pipeline", "show"],
    ["db", "path"],
]
OPTIONS = [
    "--value",
    "--email",
    "--expected-close",
    "--at",
    "--stage",
    "--pipeline",
    "--note",
    "--reason",
    "--sort",
    "--limit",
    "--status",
    "--owner",
    "--format",
    "--per-stage",
    "--probability",
    "--stale-days",
    "--position",
    "--stages",
    "--rename",
    "--triggers",
    "--yes",
    "--company",
    "--phone",
    "--source",
    "--archived",
]
ODD_VALUES = [
    "",
    " ",
    "-",
    "--",
    "-1",
    "0",
    "1",
    "2",
    "99999999999999999999999",
    "1e309",
    "nan",
    "inf",
    "-0",
    "won",
    "lost",
    "Contact",
    "Sales",
    "2026-02-30",
    "2026-13-01",
    "yesterday",
    "3 days ago",
    "9999-12-31",
    "0001-01-01",
    "1,5",
    "4.500,00",
    "€12",
    "12 EUR",
    "1_000",
    "0x10",
    "json",
    "csv",
    "table",
    "value",
    "a@b.co",
    "@",
    "x@y",
    "'; DROP TABLE lead; --",
    "\x1b[31m",
    "Zoë",
    "\u202e",
    "%s",
    "{0}",
]
argument = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.sampled_from(OPTIONS),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
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
    ["add-lead", X, "--value", X],
    ["add-lead", "N", "--expected-close", X, "--at", X],
    ["add-lead", "N", "--email", X],
    ["move", "1", X, "--at", X],
    ["move", "1", "lost", "--reason", X],
    ["edit", "1", "--value", X, "--email", X],
    ["edit", "1", "--expected-close", X, "--name", X],
    ["log", "1", X, "--at", X, "--note", X],
    ["list", "--sort", X, "--limit", X, "--status", X],
    ["board", "--per-stage", X, "--pipeline", X],
    ["pipeline", "stage", "Sales", X, "--probability", X, "--stale-days", X, "--position", X],
    ["pipeline", "add", X, "--stages", X],
    ["pipeline", "add-stage", "Sales", X, "--position", X],
    ["show", X, "--format", X],
    ["forget", X, "--yes"],
    ["delete", X, "--yes"],
    ["list", "--owner", X, "--format", X],
]


@FUZZ
@given(template=st.sampled_from(TEMPLATES), data=st.data())
def test_random_values_in_well_formed_commands(cli, template, data):
    run_unchanged_on_failure(cli, [data.draw(argument) if slot is X else slot for slot in template])


# --- random CSV files into `pipecli import` ------------------------------------------------------------

HEADER = ["name", "email", "value", "created", "stage", "notes"]
ODD_CELLS = [
    "",
    " ",
    '"',
    '""',
    "'",
    "'=1+1",
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(A1)",
    "a,b",
    "a;b",
    "a\tb",
    "a|b",
    "line\nbreak",
    "cr\rlf\r\n",
    "\ufeffbom",
    "NA",
    "null",
    "Select",
    "\x1b[31m",
    "Zoë 李",
    "'; DROP TABLE lead; --",
]
ODD_NUMBERS = [
    "0",
    "-0",
    "-5",
    "1e309",
    "nan",
    "inf",
    "1,5",
    "1.5",
    "1.234,56",
    "1,234.56",
    "1 234,56",
    "€12",
    "12 EUR",
    "$3",
    "99999999999999999999999999",
    "0.001",
    "12.",
    ".5",
    "1_000",
    "0x1F",
    "١٢٣",
    "--1",
]
ODD_DATES = [
    "2026-11-28",
    "2026-02-30",
    "2026-13-01",
    "31/12/2026",
    "12/31/2026",
    "05/06/2026",
    "99/99/99",
    "0000-00-00",
    "2026-11-28T25:00",
    "2026-11-28T10:30:00+02:00",
    "1969-12-31",
    "9999-12-31",
    "yesterday",
    "28 Nov 2026",
    "2026-W48",
    "1700000000",
]
STAGES = ["", "Prospecting", "contact", "MEETING", "won", "lost", "Nowhere", "Closed Won"]
HUGE = st.sampled_from(["x" * 100_000, "é" * 20_000 + ",;\t|" * 1000])
cell = st.one_of(st.text(max_size=25), st.sampled_from(ODD_CELLS))
row = st.fixed_dictionaries(
    {
        "name": st.one_of(cell, HUGE),
        "email": st.one_of(st.emails(), cell),
        "value": st.one_of(st.integers(min_value=0, max_value=10**12).map(str), st.sampled_from(ODD_NUMBERS), cell),
        "created": st.one_of(st.sampled_from(ODD_DATES), cell),
        "stage": st.one_of(st.sampled_from(STAGES), cell),
        "notes": st.one_of(cell, HUGE),
    }
)
DIALECT = st.fixed_dictionaries(
    {
        "delimiter": st.sampled_from([",", ";", "\t", "|"]),
        "quoting": st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]),
        "lineterminator": st.sampled_from(["\n", "\r\n"]),
        "encoding": st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "latin-1", "utf-16"]),
        "columns": st.permutations(HEADER),
    }
)


def csv_file(rows: list[dict], dialect: dict) -> tuple[bytes, list[list[str]]]:
    """Return the file's bytes and its data rows as a reader of that encoding will see them (characters
    the encoding lacks become '?')."""
    out = io.StringIO()
    writer = csv.writer(
        out, delimiter=dialect["delimiter"], quoting=dialect["quoting"], lineterminator=dialect["lineterminator"]
    )
    writer.writerow(dialect["columns"])
    for r in rows:
        writer.writerow([r[c] for c in dialect["columns"]])
    data = out.getvalue().encode(dialect["encoding"], errors="replace")
    seen = list(csv.reader(io.StringIO(data.decode(dialect["encoding"]), newline=""), delimiter=dialect["delimiter"]))
    return data, [r for r in seen[1:] if r]  # a bare CR (old Mac line end) can make an empty line


@FUZZ
@given(rows=st.lists(row, max_size=8), dialect=DIALECT)
def test_random_csv_rows_are_imported_exactly_or_rejected_with_a_reason(cli, tmp_path_factory, rows, dialect):
    from pipecli.formats import undefuse

    folder = tmp_path_factory.mktemp("csv")
    data, cells = csv_file(rows, dialect)
    source = folder / "in.csv"
    source.write_bytes(data)
    rejects = folder / "rejects.csv"
    before = cli.every_row()
    first_new = (cli.scalar("SELECT MAX(id) FROM lead") or 0) + 1
    delimiter = "tab" if dialect["delimiter"] == "\t" else dialect["delimiter"]
    args = [
        "import",
        str(source),
        "--delimiter",
        delimiter,
        "--encoding",
        dialect["encoding"],
        "--skip-invalid",
        "--rejects",
        str(rejects),
    ]
    result = cli(*args, ok=False)
    assert_clean_exit(result, args)
    if result.exit_code != 0:
        assert cli.every_row() == before, result.stderr
        return
    imported = cli.sql("SELECT name, email FROM lead WHERE id >= :i ORDER BY id", i=first_new)
    if not rejects.exists():  # written only when a row was rejected
        rejected = []
    else:
        with open(rejects, encoding=dialect["encoding"], newline="") as handle:
            rejected = list(csv.reader(handle, delimiter=dialect["delimiter"]))
        assert rejected[0][:-1] == dialect["columns"]  # the header, plus the reason column
        rejected = rejected[1:]
        assert rejected, "a rejects file with no rejected row"
    assert len(imported) + len(rejected) == len(cells), (result.stderr, imported, rejected)
    assert all(r[-1].strip() for r in rejected)  # each rejected row says why
    kept, pending = [], [r[:-1] for r in rejected]
    for c in cells:  # rejected rows come out unchanged and in order; the others were imported
        if pending and c == pending[0]:
            pending.pop(0)
        else:
            kept.append(c)
    assert pending == []
    index = {h: i for i, h in enumerate(dialect["columns"])}

    def expected(c: list[str]) -> tuple:
        value = {h: undefuse(c[i]).strip() or None for h, i in index.items()}
        return (value["name"] or value["email"], value["email"])

    assert imported == [expected(c) for c in kept]


@FUZZ
@given(
    data=st.one_of(st.binary(max_size=3000), st.text(max_size=500).map(str.encode)),
    options=st.lists(
        st.sampled_from(
            [
                ["--dayfirst"],
                ["--monthfirst"],
                ["--decimal-comma"],
                ["--key", "email"],
                ["--create-stages"],
                ["--null", "NA"],
                ["--encoding", "cp1252"],
                ["--delimiter", ";"],
                ["--dry-run"],
            ]
        ),
        max_size=3,
    ),
)
def test_random_bytes_never_crash_the_importer(cli, tmp_path_factory, data, options):
    source = tmp_path_factory.mktemp("bytes") / "in.csv"
    source.write_bytes(b"name,email,value\n" + data if data[:1] != b"\x00" else data)
    args = ["import", str(source), *[a for option in options for a in option]]
    before = cli.every_row()
    result = cli(*args, ok=False)
    assert_clean_exit(result, args)
    if result.exit_code != 0 or "--dry-run" in args:
        assert cli.every_row() == before, result.stderr
