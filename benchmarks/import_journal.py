"""Benchmark: where the journal's share of a bulk import goes, and how it grows with the row count.

    python benchmarks/import_journal.py [--rows 100000 200000] [--repeat 3] [--data DIR]

For each row count, runs `pipecli import FILE` (the CSV `benchmarks/import.py` generates) into a fresh SQLite
file as a child process, alternately with the events on and off (the bulk writer's `record` a no-op, as
`import.py --against events`), `--repeat` times each, and prints per side the best and median CPU seconds
(user + system, getrusage) of: the importing process (not its reading helper), each of `Writer.record`'s statements (the creation
snapshots, the moved-column events of leads that entered their stage after their creation), and each index
rebuilt by `Writer.finish`; then the journal's cost (events on minus off, medians) and how it grew from one
row count to the next. A shared machine stretches wall time: the figures are CPU time.

Measured (issue 12, one run each, load 4.6-4.8 on 2 cores): at 100,000 rows the journal cost 1.56 s CPU
(snapshots 0.64, moved columns 0.27, ix_event_at 0.21, the rest spread over the other rebuilds and the
commit), at 1,000,000 rows 12.50 s (5.46, 2.22, 1.52): 8.0x for 10x the rows, linear; no part grows faster.
"""

from __future__ import annotations

import argparse
import importlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT

# The child: pipecli's CLI with the writer's record statements and index rebuilds timed in CPU seconds,
# printed as one JSON line on stderr at exit.
CHILD = """
import atexit, collections, json, os, resource, sys
from pipecli.store import journal
from pipecli.transfer import writer

def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

spent = collections.Counter()

def record(self, ids, *, paths, notes, extras):
    batch, params = self._batch(ids)
    params["j"] = journal.journal_of(self.conn).entry_id(self.conn)
    shape = (paths, notes, extras)
    if shape not in self._events_sql:
        self._events_sql[shape] = writer.opening_events_sql(batch, "sqlite", paths=paths, notes=notes, extras=extras)
    for k, sql in enumerate(self._events_sql[shape]):
        start = cpu()
        self.cursor.execute(sql, params)
        spent[("record: snapshots", "record: moved columns")[min(k, 1)]] += cpu() - start

def finish(self):
    for sql in self.indexes:
        start = cpu()
        self.cursor.execute(sql)
        spent["rebuild " + sql.split()[2].strip('"')] += cpu() - start
    self.indexes = []

writer.Writer.record = record if os.environ["EVENTS"] == "1" else (lambda self, ids, **shape: None)
writer.Writer.finish = finish
atexit.register(lambda: print(json.dumps({"process": cpu(), **spent}), file=sys.stderr))
from pipecli.cli import main
sys.argv[0] = "pipecli"
main()
"""


def run_once(csv_path: Path, events: bool, folder: Path) -> dict[str, float]:
    """Import `csv_path` into a fresh file with the events on or off; return the child's CPU figures."""
    db = folder / "journal.db"
    for leftover in folder.glob("journal.db*"):
        leftover.unlink()
    env = {**os.environ, "EVENTS": "1" if events else "0", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, "--db", str(db), "import", str(csv_path)],
        env=env,
        cwd=csv_path.parent,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"import failed ({done.returncode}): {done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stderr.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 200_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "pipecli-bench")
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    generator = importlib.import_module("import")  # benchmarks/import.py: its CSV, generated once
    cost: dict[int, float] = {}
    for rows in args.rows:
        csv_path = args.data / f"leads-{rows}.csv"
        if not csv_path.exists():
            generator.generate(csv_path, rows)
        runs: dict[bool, list[dict[str, float]]] = {True: [], False: []}
        with tempfile.TemporaryDirectory(dir=args.data) as folder:
            for _ in range(max(1, args.repeat)):
                for events in (True, False):
                    runs[events].append(run_once(csv_path, events, Path(folder)))
        print(f"{rows:,} rows, {args.repeat} runs each (CPU seconds, best / median):")
        for name in sorted({k for r in runs[True] for k in r}):
            on = [r.get(name, 0.0) for r in runs[True]]
            off = [r.get(name, 0.0) for r in runs[False]]
            print(
                f"  {name:<34} events on {min(on):6.2f} / {statistics.median(on):6.2f}"
                f"   off {min(off):6.2f} / {statistics.median(off):6.2f}"
            )
        on_total = statistics.median(r["process"] for r in runs[True])
        off_total = statistics.median(r["process"] for r in runs[False])
        cost[rows] = on_total - off_total
        print(
            f"  journal's cost: {cost[rows]:.2f} s CPU, {100 * cost[rows] / off_total:+.1f} % of the import without it"
        )
    counts = sorted(cost)
    for small, big in itertools.pairwise(counts):
        print(f"journal's cost from {small:,} to {big:,} rows ({big / small:.1f}x): {cost[big] / cost[small]:.2f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
