"""Everyday writes (`move`, `edit`, `log`) as whole commands, side by side with another installation.

    python benchmarks/writes.py --against /tmp/pre-events/bin/python [--leads 10000] [--runs 15]

Issue 12 allows the event journal to make an everyday write at most 10 % slower than before events existed.
The reference is an installation of pipecli from before the journal (schema 3: `git worktree add
/tmp/pre c292671^`, then `python -m venv /tmp/pre-events && /tmp/pre-events/bin/pip install /tmp/pre`).

Each side imports the same generated CSV of `--leads` leads into its own database with its own `import`,
then runs, taking turns run by run (so a change in the machine's load falls on both):
`move ID Contact` / `move ID Meeting` (alternating, so each run is a real move), `edit ID --value N` (a new
value each run) and `log ID call`, each on a lead of its own. Printed: the median wall and CPU (user +
system, from getrusage) per command and side, and this tree's overhead. A whole command is what a user
waits for, start-up included; `--version` is printed as well, so the start-up part of a difference shows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from common import command_env, load, run
from startup import build


def sides(python: str, folder: Path) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Return, per side, the interpreter's `-m pipecli` argv and its environment (the reference's without
    this checkout on the path)."""
    env = command_env(folder, NO_COLOR="1")
    other = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    return {"this tree": ([sys.executable, "-m", "pipecli"], env), "reference": ([python, "-m", "pipecli"], other)}


def commands(run_no: int) -> dict[str, list[str]]:
    """Return the arguments of each write for run `run_no`: every run changes something."""
    return {
        "move": ["move", "14", "Contact" if run_no % 2 else "Meeting"],
        "edit": ["edit", "15", "--value", str(5000 + run_no)],
        "log": ["log", "16", "call"],
        "--version": ["--version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", required=True, metavar="PYTHON", help="the reference installation's python")
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="pipecli-writes-"))
    try:
        both = sides(args.against, folder)
        dbs = {}
        for label, (argv, env) in both.items():
            db = folder / f"{label.replace(' ', '-')}.db"
            # each side imports with its own pipecli (run from the data folder, so this checkout does not
            # shadow the reference's installation)
            build(db, args.leads, env, python=argv[0], cwd=folder)
            dbs[label] = db
        walls: dict[tuple[str, str], list[float]] = {}
        cpus: dict[tuple[str, str], list[float]] = {}
        for run_no in range(args.runs + 1):
            for name, words in commands(run_no).items():
                for label, (argv, env) in both.items():
                    wall, cpu = run([*argv, "--db", str(dbs[label]), *words], env, cwd=folder)
                    if run_no:  # the first run warms the caches
                        walls.setdefault((name, label), []).append(wall)
                        cpus.setdefault((name, label), []).append(cpu)
        print(f"{args.leads:,} leads, median of {args.runs} runs, {load()}")
        print(f"{'command':<10} {'this tree':>20} {'reference':>20} {'overhead (cpu)':>15}")
        for name in commands(0):
            this = statistics.median(walls[(name, "this tree")]), statistics.median(cpus[(name, "this tree")])
            ref = statistics.median(walls[(name, "reference")]), statistics.median(cpus[(name, "reference")])
            print(
                f"{name:<10} {this[0] * 1000:>6.0f} ms {this[1] * 1000:>4.0f} cpu"
                f" {ref[0] * 1000:>8.0f} ms {ref[1] * 1000:>4.0f} cpu {100 * (this[1] / ref[1] - 1):>+13.1f} %"
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
