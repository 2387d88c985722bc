"""Benchmark: `pipecli import` of a 1,000,000-row leads CSV, side by side with sqlite-utils and a floor.

    python benchmarks/import.py [--rows 1000000] [--data DIR]

Generates the CSV once (names, companies, emails, sources, owners, amounts, stages, created and close
dates, notes with commas, quotes and line breaks) into DIR (default: $TMPDIR/pipecli-bench), then times,
each as a child process on the same file into a fresh SQLite file:

- `pipecli import FILE` (the whole command, validating every row and writing leads, history, notes);
- `pipecli import -` with the file on stdin (a shell pipeline: its length unknown up front);
- `sqlite-utils insert DB leads FILE --csv` (no type detection; `pip install sqlite-utils`, the `bench` extra);
- the floor: Python's csv reader + sqlite3 executemany into one table, in one transaction.

Prints the times, the ratios and each command's peak memory: the highest sum of the PSS of its
processes (pipecli's import reads in a helper process), sampled every 20 ms, where Linux's /proc allows;
else the largest process's RSS (ru_maxrss from wait4).
Targets (issue 3): pipecli within 2.5x the floor, at least 3x faster than sqlite-utils, peak memory
under 100 MB.

`--against PYTHON` also times the same import by another installation of pipecli (the interpreter of a
virtual environment holding, say, the wheel of the commit before a change), run alternately with this one
`--repeat` times, and prints the best wall and CPU time of each and this one's overhead in per cent: the
figure issue 12 holds the event history to (an import that records events within 10-20 % of the one that
did not). `--only pipecli` leaves out the floor, stdin and sqlite-utils runs.

`--against events` times this tree against itself with the events of the new leads left out (the bulk
writer's `record` made a no-op in the child process, nothing else changed): the journal's own cost, apart
from the features added since the commit before events (which an older installation also lacks).

    python benchmarks/import.py --rows 1000000 --against /tmp/pre/bin/python --repeat 3 --only pipecli
    python benchmarks/import.py --rows 200000 --against events --repeat 3 --only pipecli
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import ROOT

HEADER = ["name", "company", "email", "phone", "source", "owner", "amount", "stage", "created", "close_date", "notes"]
FIRST = [
    "Anna",
    "Bruno",
    "Carla",
    "Dario",
    "Elena",
    "Fabio",
    "Giulia",
    "Hugo",
    "Irene",
    "Jonas",
    "Katrin",
    "Luca",
    "Marta",
    "Nico",
    "Olga",
    "Paolo",
    "Quinn",
    "Rita",
    "Sven",
    "Tina",
    "Ugo",
    "Vera",
    "Walter",
    "Zoe",
]
LAST = [
    "Rossi",
    "Bianchi",
    "Müller",
    "Smith",
    "García",
    "Dubois",
    "Novak",
    "Jansen",
    "Kowalski",
    "O'Brien",
    "Ferrari",
    "Silva",
    "Larsen",
    "Costa",
    "Weber",
    "Moreau",
]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "Vandelay Industries",
    "Soylent",
    "Tyrell",
    "Cyberdyne",
    "Wonka, Inc.",
    'Duff "Beer" Co',
]
SOURCES = ["referral", "web", "event", "cold call", "partner", "linkedin"]
OWNERS = ["alice", "bob", "chiara", "dmitri"]
STAGES = ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal", "won", "lost"]
NOTES = [
    "called, left a message",
    'asked for a quote: "standard plan", 3 seats',
    "",
    "met at the fair, likes the demo",
    "budget ok; decision in Q3",
    "follow up next week\nafter the holidays",
    'sent brochure, "no answer" yet',
    "",
]


def generate(path: Path, rows: int) -> None:
    rnd = random.Random(42)
    tmp = path.with_suffix(".partial")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            year, month, day = rnd.randint(2019, 2025), rnd.randint(1, 12), rnd.randint(1, 28)
            stage = rnd.choice(STAGES)
            close = ""
            if stage in ("won", "lost"):
                close = f"{min(year + rnd.randint(0, 1), 2026)}-{rnd.randint(month, 12):02d}-{rnd.randint(day, 28):02d}"
            amount = f"{rnd.randint(1, 900) * 50}" if i % 3 else f"{rnd.randint(100, 99999)}.{rnd.randint(0, 99):02d}"
            writer.writerow(
                [
                    f"{first} {last}",
                    rnd.choice(COMPANIES),
                    f"{first.lower()}.{i}@example.com",
                    f"+39 {rnd.randint(300, 399)} {rnd.randint(1000000, 9999999)}",
                    rnd.choice(SOURCES),
                    rnd.choice(OWNERS),
                    amount,
                    stage,
                    f"{year}-{month:02d}-{day:02d}",
                    close,
                    rnd.choice(NOTES),
                ]
            )
    tmp.rename(path)


def floor(csv_path: str, db_path: str) -> None:
    """The standard library alone: csv reader + executemany into one table, one transaction."""
    import sqlite3

    conn = sqlite3.connect(db_path, isolation_level=None)
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        conn.execute(f"CREATE TABLE leads ({', '.join(f'[{h}] TEXT' for h in header)})")
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO leads VALUES ({', '.join('?' * len(header))})", reader)
        conn.execute("COMMIT")
    conn.close()


def _pss_kb(pid: int) -> int:
    """Return a process's proportional set size (its private memory plus its share of shared pages)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            return next((int(line.split()[1]) for line in handle if line.startswith("Pss:")), 0)
    except (OSError, ProcessLookupError):
        return 0


def _tree(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as handle:
            return [pid, *map(int, handle.read().split())]
    except OSError:
        return [pid]


class PeakMemory(threading.Thread):
    """Samples a process and its children every 20 ms (Linux): the highest sum of their PSS, in MB. A
    helper process shares pages with its parent, so adding RSS would count them twice; PSS does not."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.peak, self.done = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.02):
            self.peak = max(self.peak, sum(map(_pss_kb, _tree(self.pid))) / 1024)


def run(
    label: str, argv: list[str], env: dict, stdin_path: Path | None = None, cwd: Path | None = None
) -> tuple[float, float, float]:
    """Run a child process; return (wall seconds, peak memory in MB, CPU seconds). Peak memory is the
    sampled PSS of the process and its helpers together where /proc allows, else the largest RSS."""
    start = time.perf_counter()
    stdin = open(stdin_path, "rb") if stdin_path else subprocess.DEVNULL
    child = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=cwd)
    sampler = PeakMemory(child.pid)
    if os.path.exists(f"/proc/{child.pid}/smaps_rollup"):
        sampler.start()
    stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    sampler.done.set()
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        sys.exit(f"{label} failed ({child.returncode}): {stderr.decode(errors='replace')[-2000:]}")
    largest = usage.ru_maxrss / 1024 if sys.platform != "darwin" else usage.ru_maxrss / 1024 / 1024
    peak = sampler.peak or largest
    cpu = usage.ru_utime + usage.ru_stime
    said = stderr.decode(errors="replace").strip().splitlines()[-1:]
    print(
        f"  {label:<14} {seconds:7.2f} s wall  {cpu:7.2f} s cpu   peak {peak:6.1f} MB all processes "
        f"({largest:5.1f} MB largest)   {' '.join(said)}",
        flush=True,
    )
    return seconds, peak, cpu


# `pipecli` with the bulk writer recording no events (`--against events`): the import as it was but the journal
WITHOUT_EVENTS = (
    "import sys\n"
    "from pipecli.transfer import writer\n"
    "writer.Writer.record = lambda self, ids, **shape: None\n"
    "from pipecli.cli import main\n"
    "sys.argv[0] = 'pipecli'\n"
    "main()"
)


def against(python: str, csv_path: Path, env: dict, fresh, repeat: int) -> None:
    """Time `import FILE` by this tree and by the installation of `python` (or, for "events", by this tree
    recording no events), alternately `repeat` times each (so a change in the machine's load falls on
    both); print the best of each and the overhead."""
    if python == "events":
        sides = {
            "this tree": ([sys.executable, "-m", "pipecli"], env),
            "no events": ([sys.executable, "-c", WITHOUT_EVENTS], env),
        }
    else:
        other_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
        sides = {
            "this tree": ([sys.executable, "-m", "pipecli"], env),
            "reference": ([python, "-m", "pipecli"], other_env),
        }
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(max(1, repeat)):
        for label, (command, side_env) in sides.items():
            argv = [*command, "--db", fresh(label.replace(" ", "-") + ".db"), "import", str(csv_path)]
            # run from the data folder: `python -m` puts the working folder first on the path, and this
            # tree's checkout there would shadow the reference's installation
            wall, peak, cpu = run(label, argv, side_env, cwd=csv_path.parent)
            old = best.get(label)
            best[label] = (min(wall, old[0]), max(peak, old[1]), min(cpu, old[2])) if old else (wall, peak, cpu)
    this = best.pop("this tree")
    other, ref = best.popitem()
    print(
        f"best of {repeat}: this tree {this[0]:.2f} s wall {this[2]:.2f} s cpu; {other} {ref[0]:.2f} s wall {ref[2]:.2f} s cpu"
    )
    print(
        f"overhead over {'the reference' if other == 'reference' else 'the same tree recording no events'}: {100 * (this[0] / ref[0] - 1):+.1f} % wall, {100 * (this[2] / ref[2] - 1):+.1f} % cpu"
    )
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", default=str(Path(tempfile.gettempdir()) / "pipecli-bench"))
    parser.add_argument("--floor", nargs=2, metavar=("CSV", "DB"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--against",
        metavar="PYTHON",
        help="the interpreter of another pipecli installation, or `events`: this tree without the import's events",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side with --against (best taken)")
    parser.add_argument("--only", choices=("all", "pipecli"), default="all")
    args = parser.parse_args()
    if args.floor:
        floor(*args.floor)
        return

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    csv_path = data / f"leads-{args.rows}.csv"
    if not csv_path.exists():
        print(f"generating {csv_path} ({args.rows:,} rows)...")
        generate(csv_path, args.rows)
    print(f"file: {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows)")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PIPECLI_CONFIG": str(data / "none.toml")}
    env.pop("PIPECLI_DB", None)

    def fresh(name: str) -> str:
        for suffix in ("", "-wal", "-shm"):
            Path(str(data / name) + suffix).unlink(missing_ok=True)
        return str(data / name)

    if args.against:
        against(args.against, csv_path, env, fresh, args.repeat)
    if args.only == "pipecli":
        return
    results = {}
    results["floor"] = run("stdlib floor", [sys.executable, __file__, "--floor", str(csv_path), fresh("floor.db")], env)
    results["pipecli"] = run(
        "pipecli import", [sys.executable, "-m", "pipecli", "--db", fresh("pipecli.db"), "import", str(csv_path)], env
    )
    results["piped"] = run(
        "pipecli import -", [sys.executable, "-m", "pipecli", "--db", fresh("piped.db"), "import", "-"], env, csv_path
    )
    sqlite_utils = shutil.which("sqlite-utils")
    if sqlite_utils:
        results["sqlite-utils"] = run(
            "sqlite-utils", [sqlite_utils, "insert", fresh("sqlite-utils.db"), "leads", str(csv_path), "--csv"], env
        )
    else:
        print("  sqlite-utils   not installed (pip install sqlite-utils): skipped")

    print("\n(wall time is what the targets mean; cpu time is shown too, as it is steadier on a busy machine)")
    floor_, pipecli = results["floor"], results["pipecli"]
    ratio, cpu_ratio = pipecli[0] / floor_[0], pipecli[2] / floor_[2]
    print(
        f"pipecli / floor        {ratio:5.2f}x wall  {cpu_ratio:5.2f}x cpu  (target <= 2.5x)  {'ok' if ratio <= 2.5 else 'MISSED'}"
    )
    if "sqlite-utils" in results:
        other = results["sqlite-utils"]
        speedup, cpu_speedup = other[0] / pipecli[0], other[2] / pipecli[2]
        print(
            f"sqlite-utils / pipecli {speedup:5.2f}x wall  {cpu_speedup:5.2f}x cpu  (target >= 3x)    {'ok' if speedup >= 3 else 'MISSED'}"
        )
    print(f"pipecli peak memory    {pipecli[1]:5.1f} MB (target < 100 MB)  {'ok' if pipecli[1] < 100 else 'MISSED'}")
    piped = results["piped"]
    print(f"piped on stdin         {piped[0] / floor_[0]:5.2f}x the floor, {piped[1]:5.1f} MB")


if __name__ == "__main__":
    main()
