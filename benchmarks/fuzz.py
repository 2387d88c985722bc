"""The fuzz run of issue 19: generated command lines over every command, and generated CSV files, each
run against a copy of a demo database, checked for what a user must never see.

    python benchmarks/fuzz.py [--commands 2000] [--csv 500] [--seed N] [--url postgresql://...]

The command lines come from a walk of the typer app (every command and subcommand, its arguments and
options), with values drawn from good values (the demo's leads, stages, pipelines, dates, amounts), edge
values (0, -1, 2^63, huge, empty, unicode, control characters, invalid UTF-8 as surrogate escapes, far
dates, bad offsets, paths that are folders, missing, the database itself, a character device, a FIFO) and
junk. Each CSV file (good rows, bad encodings, BOMs, NUL bytes, huge fields, bad dates and amounts,
duplicated or missing headers, ragged rows, formula cells, mixed line endings) is imported with generated
import options. Every 25 command lines get a fresh copy of the demo database (SQLite; with --url a fresh
PostgreSQL database from a template as well, the same lines run on both).

Per command (`check`): no traceback, an exit code pipecli documents (0, 1, 2, 66; 70 "internal error" is a
failure), one line of stderr when it failed, the database unchanged when it failed (a canonical dump before
and after), and `PRAGMA integrity_check` ok (SQLite). About 10 % run as real subprocesses (argv as bytes,
so surrogates are invalid UTF-8; pipes; exit codes), the rest in-process through typer's CliRunner.
The device stand-in for /dev/null is a character device made in the run's folder, so a command that
replaced it could not touch the machine's own /dev/null.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
import typing
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from common import NOW, command_env, freeze

DOCUMENTED_EXITS = {0, 1, 2, 66}
BATCH = 25
SKIPPED_OPTIONS = {"--install-completion", "--show-completion", "--db", "--version"}
HANG_SECONDS = 60


@dataclass
class Outcome:
    """What one command did: its argv (after `--db DB`), exit code, stderr, an escaped exception's text,
    whether the database changed, and the integrity check's answer ("ok" unless it found something)."""

    argv: list[str]
    exit_code: int
    stderr: str
    exception: str = ""
    changed: bool = False
    integrity: str = "ok"
    how: str = "in-process"
    backend: str = "sqlite"


def check(outcome: Outcome) -> list[str]:
    """Return the kinds of failure `outcome` shows (empty when it passed)."""
    kinds = []
    if outcome.exit_code == 70 or "internal error" in outcome.stderr:
        kinds.append("internal error")
    if "Traceback (most recent call last)" in outcome.stderr or outcome.exception:
        kinds.append("traceback")
    if outcome.exit_code not in DOCUMENTED_EXITS and outcome.exit_code != 70:
        kinds.append(f"exit {outcome.exit_code}")
    if outcome.exit_code != 0 and len(outcome.stderr.strip().splitlines()) > 1:
        kinds.append("multi-line error")
    if outcome.exit_code != 0 and outcome.changed:
        kinds.append("changed on failure")
    if outcome.integrity != "ok":
        kinds.append("integrity")
    return kinds


# --- values ------------------------------------------------------------------------------------------

EDGE = [
    "0",
    "-1",
    str(2**63),
    str(2**64),
    "9" * 40,
    "",
    " ",
    "é漢字🙂",
    "\u202eevil",
    "\x1b]0;pwned\x07",
    "\x1b[31mred",
    "\x7f\x9b2J",
    "a\tb\nc",
    "\udcff\udcfe",
    "abc\udc80",
    "9999-12-31",
    "0001-01-01",
    "in 9000 years",
    "-5000-01-01",
    "2026-01-01T00:00+25:00",
    "2026-01-01T00:00+99:99",
    "2026-13-45",
    "x" * 20000,
    "1e308",
    "NaN",
    "-0",
    "'; DROP TABLE lead; --",
]
DATES = ["2026-12-01", "today", "tomorrow", "yesterday", "in 3 days", "2026-11-28T10:00+01:00", "last monday"]
AMOUNTS = ["4.5k", "100", "EUR 12.50", "0", "1,000.25", "$99"]


class Values:
    """Draws an option's or argument's value: good, edge, path or junk."""

    def __init__(self, rng: random.Random, folder: Path, db: str, facts: dict[str, list[str]]):
        self.rng = rng
        self.facts = facts
        self.paths = [
            str(folder),
            str(folder / "missing" / "x.csv"),
            str(folder / "nothing.db"),
            db,
            str(folder / "null"),
            str(folder / "fifo"),
            str(folder / "good.csv"),
            str(folder / "backup.db"),
            str(folder / "out.txt"),
        ]

    def good(self, name: str, annotation: object) -> str:
        rng = self.rng
        choices = typing.get_args(annotation)
        if choices and all(isinstance(c, str) for c in choices):
            return rng.choice(choices)
        if annotation is int or "limit" in name or "days" in name or name in {"periods", "runs", "seed", "leads"}:
            return str(rng.choice([1, 2, 3, 5, 10, 30]))
        facts = self.facts
        table = {
            "lead": facts["leads"],
            "other": facts["leads"],
            "lead_id": facts["leads"],
            "who": facts["leads"],
            "entry_id": ["1", "2", "3"],
            "stage": facts["stages"],
            "stage_name": facts["stages"],
            "pipeline": facts["pipelines"],
            "old": facts["pipelines"],
            "kind": ["call", "email", "meeting", "note"],
            "email": ["a@b.co", "anna@example.com"],
            "format": ["table", "json", "csv"],
            "value": AMOUNTS,
            "target": AMOUNTS,
            "avg_deal": AMOUNTS,
            "key": ["email", "external_id", "mail.daily_cap", "scoring.hot"],
            "file": self.paths,
            "path": self.paths,
            "into": self.paths,
            "rejects": self.paths,
            "source": self.paths + ["web", "referral"],
            "url": ["postgresql://nobody@127.0.0.1:1/none", "sqlite:///x.db"],
            "encoding": ["utf-8", "latin-1", "utf-16", "rot13", "base64", "nope"],
            "delimiter": [",", ";", "\t", "||"],
        }
        if name in table:
            return rng.choice(table[name])
        if any(word in name for word in ("at", "since", "until", "due", "next", "close", "of")):
            return rng.choice(DATES)
        if "prob" in name or "rate" in name:
            return rng.choice(["0.5", "50%", "1", "0"])
        return rng.choice(["Anna", "Acme", "x", "hello world", *self.facts["leads"]])

    def junk(self) -> str:
        rng = self.rng
        size = rng.choice([1, 3, 10, 60])
        alphabet = "abcXYZ019 -_=+.,;:/\\'\"`$#@%&*()[]{}<>?!~|é漢\x01\x1b\x7f"
        return "".join(rng.choice(alphabet) for _ in range(size))

    def draw(self, name: str, annotation: object) -> str:
        roll = self.rng.random()
        if roll < 0.6:
            return self.good(name, annotation)
        if roll < 0.75:
            return self.rng.choice(self.paths)
        if roll < 0.92:
            return self.rng.choice(EDGE)
        return self.junk()


def leaf_commands() -> list[tuple[list[str], typing.Any]]:
    """Every command and subcommand of the app as (its words, its click command)."""
    import typer.main

    from pipecli.cli import app

    found: list[tuple[list[str], typing.Any]] = []

    def walk(cmd: typing.Any, words: list[str]) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in sorted(cmd.commands.items()):
                walk(sub, [*words, name])
        else:
            found.append((words, cmd))

    root = typer.main.get_command(app)
    walk(root, [])
    return found


def root_options() -> list[typing.Any]:
    import typer.main

    from pipecli.cli import app

    return [p for p in typer.main.get_command(app).params if p.opts[0] not in SKIPPED_OPTIONS]


def command_line(rng: random.Random, values: Values, words: list[str], cmd: typing.Any, roots: list) -> list[str]:
    """One generated command line for `cmd` (without `--db DB`)."""
    argv: list[str] = []
    for option in roots:
        if rng.random() < 0.05:
            argv += [option.opts[0]] if option.is_flag else [option.opts[0], values.draw(option.name, str)]
    argv += words
    for param in cmd.params:
        annotation = param.type_descriptor.annotation if param.type_descriptor else str
        if param.param_type_name == "argument":
            if rng.random() < 0.92:
                argv.append(values.draw(param.name, annotation))
        elif rng.random() < 0.3:
            flag = rng.choice(param.opts)
            if param.is_flag:
                argv.append(flag)
            else:
                argv += [flag, values.draw(param.name, annotation)]
    if rng.random() < 0.05:
        argv.insert(rng.randrange(len(words), len(argv) + 1), rng.choice(["--nope", "-z", values.junk(), "--"]))
    if rng.random() < 0.02:
        argv.append("--help")
    return argv


# --- CSV files ---------------------------------------------------------------------------------------

HEADERS = ["name", "email", "company", "phone", "value", "stage", "source", "owner", "created", "expected_close"]


def csv_file(rng: random.Random, path: Path) -> Path:
    """Write one generated CSV file at `path`: mostly a plausible import, with one or more defects."""
    headers = rng.sample(HEADERS, rng.randint(1, len(HEADERS)))
    if "name" not in headers and rng.random() < 0.7:
        headers.insert(0, "name")
    if rng.random() < 0.1:
        headers.append(rng.choice(headers))  # duplicated header
    if rng.random() < 0.05:
        headers = ["", *headers[1:]]
    good = {
        "name": lambda i: f"Lead {i}",
        "email": lambda i: f"p{i}@example.com",
        "company": lambda i: rng.choice(["Acme", "Globex", "Ünicode GmbH"]),
        "phone": lambda i: f"+49 30 {1000 + i}",
        "value": lambda i: rng.choice(AMOUNTS),
        "stage": lambda i: rng.choice(["New", "Qualified", "Proposal", "Won", "Nope"]),
        "source": lambda i: "web",
        "owner": lambda i: "sam",
        "created": lambda i: rng.choice(["2026-01-05", "2025-06-01T10:00:00+02:00"]),
        "expected_close": lambda i: "2027-01-31",
    }
    bad = [
        "0001-01-01",
        "2026-01-01T00:00+99:99",
        "9999-99-99",
        "12..5",
        "€€€",
        '=HYPERLINK("http://x","y")',
        "+cmd|' /C calc'!A0",
        "@SUM(1)",
        "a\x00b",
        "x" * 150_000,
        "\x1b]0;t\x07",
        "not-an-email",
        "",
        str(2**63),
    ]
    rows = []
    for i in range(rng.randint(0, 40)):
        row = [rng.choice(bad) if rng.random() < 0.15 else good[h](i) if h in good else "x" for h in headers]
        if rng.random() < 0.05:
            row = row[: rng.randint(0, len(row))] if rng.random() < 0.5 else [*row, "extra"]
        rows.append(row)

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value

    ending = rng.choice(["\n", "\r\n", "\r", None])
    lines = [",".join(map(cell, r)) for r in ([headers] if rng.random() > 0.05 else []) + rows]
    text = "".join(line + (ending or rng.choice(["\n", "\r\n", "\r"])) for line in lines)
    encoding = rng.choice(["utf-8"] * 6 + ["utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252", "broken"])
    if encoding == "broken":
        data = text.encode("utf-8", "replace")
        cut = rng.randrange(len(data) + 1)
        data = data[:cut] + b"\xff\xfe\xc3" + data[cut:]
    else:
        data = text.encode(encoding, "replace")
    if rng.random() < 0.05:
        data = data.replace(b",", b"\x00", 1)
    if rng.random() < 0.02:
        data = b""
    path.write_bytes(data)
    return path


# --- databases ---------------------------------------------------------------------------------------


def sqlite_dump(db: str) -> tuple[str, str]:
    """Return the canonical dump of a SQLite database and its integrity check's answer."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            dump = "\n".join(conn.iterdump())
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"unreadable: {exc}", "ok"  # a file that is no database (restored over, say) has no dump
    return dump, integrity


def pg_dump(url: str) -> tuple[str, str]:
    """Return every row of every schema table of a PostgreSQL database, ordered by primary key."""
    from sqlalchemy import create_engine, select

    from pipecli.store import schema

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            rows = {
                t.name: [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
                for t in schema.tables()
            }
    finally:
        engine.dispose()
    return repr(rows), "ok"


class Hang(Exception):
    """A command that ran past HANG_SECONDS."""


def _alarm(signum: int, frame: object) -> None:
    raise Hang(f"no answer after {HANG_SECONDS} s")


def run_in_process(db: str, argv: list[str]) -> tuple[int, str, str]:
    """Run one command line through CliRunner: (exit code, stderr, the text of an escaped exception)."""
    from typer.testing import CliRunner

    from pipecli import clock, config
    from pipecli.cli import app

    clock.freeze(None)
    config.use_database(None)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(HANG_SECONDS)
    try:
        result = CliRunner().invoke(app, ["--db", db, *argv], input="")
    finally:
        signal.alarm(0)
    escaped = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        escaped = f"{type(result.exception).__name__}: {result.exception}"
    return result.exit_code, result.stderr, escaped


def run_process(db: str, argv: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    """Run one command line as a real process (argv as bytes: a surrogate is an invalid UTF-8 byte)."""
    full = [sys.executable, "-m", "pipecli", "--db", db, *argv]
    try:
        done = subprocess.run(
            [os.fsencode(a) for a in full],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=HANG_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return -1, "", f"Hang: no answer after {HANG_SECONDS} s"
    return done.returncode, done.stderr.decode("utf-8", "replace"), ""


@dataclass
class Summary:
    tried: int = 0
    passed: int = 0
    failures: Counter = field(default_factory=Counter)
    failing: list[tuple[str, int, str, list[str]]] = field(default_factory=list)
    exits: Counter = field(default_factory=Counter)
    subprocesses: int = 0

    def record(self, outcome: Outcome) -> None:
        self.tried += 1
        self.exits[outcome.exit_code] += 1
        self.subprocesses += outcome.how == "subprocess"
        kinds = check(outcome)
        if not kinds:
            self.passed += 1
            return
        self.failures.update(kinds)
        first = (outcome.exception or outcome.stderr.strip()).splitlines()[:1]
        shown = " ".join(repr(a)[1:-1][:60] for a in outcome.argv)
        self.failing.append((f"[{outcome.backend} {outcome.how}] {shown}", outcome.exit_code, "".join(first), kinds))


class Fuzzer:
    """Builds the demo databases and runs generated command lines in batches against copies of them."""

    def __init__(self, folder: Path, seed: int, url: str | None = None, subprocess_share: float = 0.1):
        freeze()
        self.folder = folder
        self.rng = random.Random(seed)
        self.url = url
        self.subprocess_share = subprocess_share
        self.env = command_env(folder)
        os.chdir(folder)  # a relative path a command writes (a junk file name) lands in the run's folder
        os.environ["PIPECLI_CONFIG"] = self.env["PIPECLI_CONFIG"]
        os.environ["XDG_DATA_HOME"] = str(folder / "xdg-data")
        os.environ["XDG_CONFIG_HOME"] = str(folder / "xdg-config")
        os.environ.pop("PIPECLI_DB", None)
        os.environ["PIPECLI_NOW"] = NOW
        self.env.update({k: os.environ[k] for k in ("XDG_DATA_HOME", "XDG_CONFIG_HOME")})
        self.env.pop("PIPECLI_DB", None)
        self.demo = folder / "demo.db"
        code, err, escaped = run_in_process(str(self.demo), ["demo", "--leads", "30"])
        assert code == 0, err + escaped
        self.facts = self._facts()
        self.commands = leaf_commands()
        self.roots = root_options()
        self.pg_template: str | None = None
        self.pg_batches = 0
        if url:
            self.pg_template = self._pg_database("fuzz_template")
            code, err, escaped = run_in_process(self._pg_url(self.pg_template), ["demo", "--leads", "30"])
            assert code == 0, err + escaped
        self.summary = Summary()
        self.progress = False

    def _facts(self) -> dict[str, list[str]]:
        conn = sqlite3.connect(self.demo)
        try:
            leads = [str(i) for (i,) in conn.execute("SELECT id FROM lead ORDER BY id LIMIT 5")]
            leads += [e for (e,) in conn.execute("SELECT email FROM lead WHERE email IS NOT NULL LIMIT 3")]
            stages = [n for (n,) in conn.execute("SELECT DISTINCT name FROM stage")]
            pipelines = [n for (n,) in conn.execute("SELECT name FROM pipeline")]
        finally:
            conn.close()
        return {"leads": [*leads, "#1", "Anna"], "stages": stages, "pipelines": pipelines}

    def _pg_url(self, name: str) -> str:
        assert self.url
        return self.url.rsplit("/", 1)[0] + "/" + name

    def _pg_admin(self, statement: str) -> None:
        import psycopg

        assert self.url
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(statement)

    def _pg_database(self, name: str, template: str | None = None) -> str:
        name = f"{name}_{os.getpid()}"
        self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._pg_admin(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def cleanup(self) -> None:
        if self.url:
            for i in range(self.pg_batches):
                self._pg_admin(f'DROP DATABASE IF EXISTS "fuzz_batch{i}_{os.getpid()}" WITH (FORCE)')
            self._pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_template}" WITH (FORCE)')

    def _batch_folder(self) -> tuple[Path, str]:
        batch = Path(tempfile.mkdtemp(dir=self.folder, prefix="batch-"))
        db = batch / "p.db"
        shutil.copyfile(self.demo, db)
        os.chmod(db, 0o600)
        os.mknod(batch / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        os.mkfifo(batch / "fifo")
        csv_file(random.Random(0), batch / "good.csv")
        shutil.copyfile(self.demo, batch / "backup.db")
        return batch, str(db)

    def lines(self, count: int, csvs: int) -> list[list[str]]:
        """Generate `count` command lines over every command and `csvs` import lines (each with its CSV
        file, written when its batch runs): one list, shuffled by the seed."""
        made: list[list[str]] = []
        values = Values(self.rng, self.folder / "BATCH", "DB", self.facts)
        for i in range(count):
            words, cmd = (
                self.commands[i % len(self.commands)] if i < len(self.commands) else self.rng.choice(self.commands)
            )
            made.append(command_line(self.rng, values, words, cmd, self.roots))
        importer = next(cmd for words, cmd in self.commands if words == ["import"])
        for i in range(csvs):
            line = command_line(self.rng, values, ["import"], importer, [])
            line = [a for a in line if a != "--help"]
            if len(line) < 2 or line[1].startswith("-"):
                line.insert(1, "")
            line[1] = f"CSV:{i}"
            made.append(line)
        self.rng.shuffle(made)
        return made

    def run(self, lines: list[list[str]]) -> Summary:
        for start in range(0, len(lines), BATCH):
            self.run_batch(lines[start : start + BATCH])
            if self.progress:
                print(f"{start + BATCH} of {len(lines)} lines: {self.summary.tried} tried", file=sys.stderr)
        return self.summary

    def run_batch(self, lines: list[list[str]]) -> None:
        batch, db = self._batch_folder()
        targets = [("sqlite", db)]
        if self.pg_template:
            name = f"fuzz_batch{self.pg_batches}_{os.getpid()}"
            self._pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.pg_template}"')
            self.pg_batches += 1
            targets.append(("postgresql", self._pg_url(name)))
        for line in lines:
            argv = []
            for arg in line:
                arg = arg.replace(str(self.folder / "BATCH"), str(batch))
                if arg.startswith("CSV:"):
                    arg = str(csv_file(random.Random(f"{arg}"), batch / f"in-{arg[4:]}.csv"))
                argv.append(arg)
            as_process = self.rng.random() < self.subprocess_share
            for backend, target in targets:
                real = [target if a == "DB" else a for a in argv]
                self.summary.record(self.run_one(backend, target, real, as_process))
        shutil.rmtree(batch, ignore_errors=True)

    def run_one(self, backend: str, target: str, argv: list[str], as_process: bool) -> Outcome:
        dump = sqlite_dump if backend == "sqlite" else pg_dump
        before, _ = dump(target)
        if as_process:
            code, stderr, escaped = run_process(target, argv, self.env)
        else:
            code, stderr, escaped = run_in_process(target, argv)
        after, integrity = dump(target)
        how = "subprocess" if as_process else "in-process"
        return Outcome(argv, code, stderr, escaped, before != after, integrity, how, backend)


def report(summary: Summary, seed: int) -> str:
    lines = [
        f"fuzz run, seed {seed}: tried {summary.tried}, passed {summary.passed}, "
        f"failed {summary.tried - summary.passed} ({summary.subprocesses} as subprocesses)",
        f"internal errors {summary.failures['internal error']}, tracebacks {summary.failures['traceback']}",
        "failed by kind: " + (", ".join(f"{k} {n}" for k, n in summary.failures.most_common()) or "none"),
        "exit codes: " + ", ".join(f"{k}: {n}" for k, n in sorted(summary.exits.items())),
    ]
    for shown, code, first, kinds in summary.failing[:200]:
        lines.append(f"  FAIL {'/'.join(kinds)} exit {code}: {shown[:300]}\n       {first[:200]}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--csv", type=int, default=500)
    parser.add_argument("--seed", type=int, default=19)
    parser.add_argument("--url", help="a PostgreSQL server URL where this role may create databases")
    args = parser.parse_args()
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="pipecli-fuzz-") as folder:
        fuzzer = Fuzzer(Path(folder), args.seed, args.url)
        fuzzer.progress = True
        try:
            summary = fuzzer.run(fuzzer.lines(args.commands, args.csv))
        finally:
            fuzzer.cleanup()
    print(report(summary, args.seed))
    wall, used = time.perf_counter() - started, time.process_time() - cpu
    print(f"wall {wall:.0f} s, CPU {used:.0f} s in this process (load {os.getloadavg()[0]:.1f})")
    sys.exit(0 if summary.passed == summary.tried else 1)


if __name__ == "__main__":
    main()
