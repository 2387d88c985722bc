"""`mail sync` of a 10,000-message Maildir, and a re-sync with nothing new, against a floor.

    python benchmarks/mail_sync.py [--messages 10000] [--leads 500] [--runs 7] [--db postgresql://...]

Prints the wall and CPU time of the first sync (target: <= 20 s), each a whole `pipecli mail sync` command, next to
the floor: the same files read and their headers parsed by the standard library, and one row per message inserted
with sqlite3, nothing of pipecli's. Then the median of `--runs` re-syncs with nothing new (target: <= 2 s) next to
the median of as many `pipecli mail status` runs, taking turns: the same start-up, database opening and one query,
the least any command that reads the database costs, so what a re-sync adds is the difference.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from email.parser import BytesParser
from email.utils import getaddresses
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))
from startup import timed  # noqa: E402  (the same median-of-runs timer)

from tests.fixtures.mail import bulk  # noqa: E402  (after the path: the fixture's Maildir writer)


def floor(box: Path, db: Path) -> float:
    """Return the seconds to read and parse every message's headers and insert one row per message."""
    start = time.perf_counter()
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE m (message_id TEXT UNIQUE, sender TEXT, subject TEXT)")
    parser = BytesParser()
    rows = []
    for sub in ("cur", "new"):
        for path in sorted((box / sub).iterdir()):
            msg = parser.parsebytes(path.read_bytes(), headersonly=True)
            rows.append((msg.get("Message-ID") or path.name, getaddresses([msg.get("From", "")])[0][1], msg["Subject"]))
    conn.executemany("INSERT INTO m VALUES (?, ?, ?)", rows)
    conn.commit()
    conn.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--leads", type=int, default=500)
    parser.add_argument("--runs", type=int, default=7, help="re-syncs (and status runs) to take the median of")
    parser.add_argument("--db", help="a postgresql:// URL of an empty database (default: a SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "config.toml").write_text('[mail]\naddresses = ["me@seller.example"]\n')
        (folder / "leads.csv").write_text(bulk.lead_csv(args.leads))
        box = bulk.write(folder / "Maildir", args.messages, args.leads)
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PIPECLI_DB": args.db or str(folder / "bench.db"),
            "PIPECLI_CONFIG": str(folder / "config.toml"),
        }
        pipecli = [sys.executable, "-m", "pipecli"]
        subprocess.run(pipecli + ["import", str(folder / "leads.csv")], env=env, capture_output=True, check=True)

        # CPU too (RUSAGE_CHILDREN), as a busy machine stretches wall time
        cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(pipecli + ["mail", "sync", str(box)], env=env, capture_output=True, check=True)
        first = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        first_cpu = after.ru_utime - cpu.ru_utime + after.ru_stime - cpu.ru_stime
        base = floor(box, folder / "floor.db")
        again = timed(
            {
                "re-sync, nothing new": (pipecli + ["mail", "sync", str(box)], env),
                "mail status (reference)": (pipecli + ["mail", "status"], env),
            },
            args.runs,
        )
    load = os.getloadavg()[0]
    print(f"{args.messages:,} messages, {args.leads} leads, {'PostgreSQL' if args.db else 'SQLite'}, load {load:.1f}")
    print(f"{'':26}{'pipecli wall':>14}{'pipecli CPU':>14}{'floor':>10}{'target':>10}")
    print(f"{'first sync':26}{first:>13.2f}s{first_cpu:>13.2f}s{base:>9.2f}s{'<= 20 s':>10}")
    for name, (wall, cpu_s) in again.items():
        target = "<= 2 s" if name.startswith("re-sync") else ""
        print(f"{name:26}{wall:>13.2f}s{cpu_s:>13.2f}s{'':>10}{target:>10}  (median of {args.runs})")


if __name__ == "__main__":
    main()
