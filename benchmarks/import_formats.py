"""Benchmark: `pipecli import` of a 100,000-row .xlsx beside the same rows as CSV (target: at most 1.5x).

    python benchmarks/import_formats.py [--rows 100000] [--data DIR]

Writes the rows once as CSV and as .xlsx (openpyxl, write-only; the `test` extra) into DIR (default:
$TMPDIR/pipecli-bench-formats), then times `pipecli import FILE` of each as a child process into a fresh
SQLite file (best of --repeat runs) and prints both times and their ratio.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADER = ["Name", "Company", "Email", "Value", "Stage", "Created", "Close date"]
STAGES = ["", "Contact", "Meeting", "Proposal", "won", "lost"]


def rows(n: int) -> list[list]:
    rng = random.Random(15)
    out = []
    for i in range(n):
        created = dt.datetime(2025, 1, 1) + dt.timedelta(minutes=rng.randrange(500_000))
        stage = rng.choice(STAGES)
        closed = (created + dt.timedelta(days=rng.randrange(1, 90))).date() if stage in ("won", "lost") else None
        out.append(
            [
                f"Lead {i}",
                f"Company {i % 997}",
                f"lead{i}@example.com",
                rng.randrange(100, 90000),
                stage,
                created,
                closed,
            ]
        )
    return out


def write_files(n: int, data: Path) -> tuple[Path, Path]:
    data.mkdir(parents=True, exist_ok=True)
    csv_path, xlsx_path = data / f"leads-{n}.csv", data / f"leads-{n}.xlsx"
    if csv_path.exists() and xlsx_path.exists():
        return csv_path, xlsx_path
    table = rows(n)
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for r in table:
            w.writerow(["" if v is None else (v.isoformat(sep=" ") if isinstance(v, dt.datetime) else v) for v in r])
    import openpyxl  # the benchmark's own dependency (the test extra), only to write the workbook

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("Leads")
    sheet.append(HEADER)
    for r in table:
        sheet.append(r)
    book.save(xlsx_path)
    return csv_path, xlsx_path


def run(path: Path, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, PIPECLI_DB=str(Path(tmp) / "bench.db"), PIPECLI_CONFIG=str(Path(tmp) / "c.toml"))
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "pipecli", "import", str(path)],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) / "pipecli-bench-formats")
    args = parser.parse_args()
    csv_path, xlsx_path = write_files(args.rows, args.data)
    t_csv, t_xlsx = run(csv_path, args.repeat), run(xlsx_path, args.repeat)
    print(f"{args.rows:,} rows, best of {args.repeat}")
    print(f"  csv   {t_csv:7.2f} s")
    print(f"  xlsx  {t_xlsx:7.2f} s   {t_xlsx / t_csv:.2f}x the CSV (target <= 1.5x)")


if __name__ == "__main__":
    main()
