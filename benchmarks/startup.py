"""Start-up cost of everyday commands and of a TAB, side by side with the floors of importing the libraries.

    python benchmarks/startup.py [--runs 15] [--leads 10000]

Builds a database of 10,000 leads (imported from a generated CSV), then prints the median wall time of
`pipecli --version`, `pipecli --help`, two TAB completions (the stages for `move 1 <TAB>`, lead names for
`show Ros<TAB>`, through the shell protocol bash uses), `pipecli list --limit 20` and `pipecli show 1`,
next to two floors: `python -c "import typer"` and `python -c "import typer, sqlmodel, pendulum"`.

Targets: --help, --version and a TAB at most 1.5x the first floor (they load none of the core);
list and show at most 1.0x the second (the libraries they need, and nothing else worth measuring).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(cmd: list[str], env: dict, runs: int) -> float:
    """Return the median wall time in seconds of running `cmd` `runs` times (after one warm-up)."""
    subprocess.run(cmd, env=env, capture_output=True, check=True)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def build(db: Path, leads: int, env: dict) -> None:
    """Fill `db` with `leads` leads spread over the default pipeline's stages, owners and sources."""
    stages = ["Prospecting", "Contact", "Qualification", "Meeting", "Proposal", "won", "lost"]
    csv_path = db.with_suffix(".csv")
    with open(csv_path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["name", "company", "email", "value", "owner", "source", "stage"])
        for i in range(1, leads + 1):
            out.writerow(
                [
                    f"Person {i} Rossi" if i % 7 == 0 else f"Person {i}",
                    f"Company {i % 900}",
                    f"p{i}@example.com",
                    str(1000 + i % 50_000),
                    ("anna", "bob", "chiara", "dario")[i % 4],
                    ("web", "referral", "event")[i % 3],
                    stages[i % len(stages)],
                ]
            )
    pipecli = [sys.executable, "-m", "pipecli", "--db", str(db)]
    subprocess.run(pipecli + ["import", str(csv_path)], env=env, capture_output=True, check=True)


def tab(words: str) -> tuple[list[str], dict[str, str]]:
    """Return the command and environment of one bash TAB after `words` (what bash's completion script runs)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return [sys.executable, "-m", "pipecli"], {
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
        "_PIPECLI_COMPLETE": "complete_bash",
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--leads", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "PIPECLI_DB": str(db),
            "PIPECLI_CONFIG": str(Path(tmp) / "c.toml"),
        }
        build(db, args.leads, env)
        pipecli = [sys.executable, "-m", "pipecli"]
        stages_cmd, stages_env = tab("pipecli move 1 ")
        names_cmd, names_env = tab("pipecli show Perso")
        floor_typer = timed([sys.executable, "-c", "import typer"], env, args.runs)
        floor_all = timed([sys.executable, "-c", "import typer, sqlmodel, pendulum"], env, args.runs)
        rows = [
            ("pipecli --version", timed(pipecli + ["--version"], env, args.runs), floor_typer, 1.5),
            ("pipecli --help", timed(pipecli + ["--help"], env, args.runs), floor_typer, 1.5),
            (
                "TAB: pipecli move 1 <TAB> (stages)",
                timed(stages_cmd, {**env, **stages_env}, args.runs),
                floor_typer,
                1.5,
            ),
            (
                "TAB: pipecli show Perso<TAB> (leads)",
                timed(names_cmd, {**env, **names_env}, args.runs),
                floor_typer,
                1.5,
            ),
            (
                f"pipecli list --limit 20 ({args.leads:,} leads)",
                timed(pipecli + ["list", "--limit", "20"], env, args.runs),
                floor_all,
                1.0,
            ),
            (f"pipecli show 1 ({args.leads:,} leads)", timed(pipecli + ["show", "1"], env, args.runs), floor_all, 1.0),
        ]
    print(f"{'command':<48}{'median':>9}{'floor':>9}{'ratio':>8}{'target':>8}  verdict")
    first, second = 'floor 1: python -c "import typer"', 'floor 2: python -c "import typer, sqlmodel, pendulum"'
    print(f"{first:<48}{floor_typer * 1000:>7.0f}ms")
    print(f"{second:<48}{floor_all * 1000:>7.0f}ms")
    for name, value, floor, target in rows:
        ratio = value / floor
        which = "floor 1" if floor is floor_typer else "floor 2"
        print(
            f"{name:<48}{value * 1000:>7.0f}ms{floor * 1000:>7.0f}ms{ratio:>7.2f}x{target:>7.1f}x  "
            f"{'met' if ratio <= target else 'NOT met'} ({which})"
        )


if __name__ == "__main__":
    main()
