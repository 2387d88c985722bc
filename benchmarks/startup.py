"""Start-up cost of everyday commands and of a TAB, side by side with the floors of importing the libraries.

    python benchmarks/startup.py [--runs 15] [--leads 10000]

Builds a database of 10,000 leads (imported from a generated CSV), then prints the median wall time of
`pipecli --version`, `pipecli --help`, two TAB completions (the stages for `move 1 <TAB>`, lead names for
`show Ros<TAB>`, through the shell protocol bash uses), `pipecli list --limit 20` and `pipecli show 1`,
next to two floors: `python -c "import typer"` and `python -c "import typer, sqlmodel, pendulum"`.

Targets: --help, --version and a TAB at most 1.5x the first floor (they load none of the core, and
build only the command they need); list and show at most 1.0x the second (the libraries they need, and
nothing else worth measuring). The machine's load average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(commands: dict[str, tuple[list[str], dict]], runs: int) -> dict[str, tuple[float, float]]:
    """Return, per name, the median wall time and the median CPU time (user + system) in seconds of
    running its command `runs` times (after one warm-up). The commands take turns, run by run, so a
    machine that gets busier or quieter in the meantime weighs on all of them alike; CPU time is the
    steadier figure on a busy machine."""
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for cmd, env in commands.values():
        subprocess.run(cmd, env=env, capture_output=True, check=True)
    for _ in range(runs):
        for name, (cmd, env) in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            walls[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands}


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


def tab(words: str, env: dict) -> tuple[list[str], dict]:
    """Return the command and environment of one bash TAB after `words` (what bash's completion script runs)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return [sys.executable, "-m", "pipecli"], {
        **env,
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
            # bytecode cached as an installed package has it: without it every run compiles pipecli's source
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPATH": str(ROOT),
            "PIPECLI_DB": str(db),
            "PIPECLI_CONFIG": str(Path(tmp) / "c.toml"),
        }
        build(db, args.leads, env)
        pipecli = [sys.executable, "-m", "pipecli"]
        first = 'floor 1: python -c "import typer"'
        second = 'floor 2: python -c "import typer, sqlmodel, pendulum"'
        commands = {
            first: ([sys.executable, "-c", "import typer"], env),
            second: ([sys.executable, "-c", "import typer, sqlmodel, pendulum"], env),
            "pipecli --version": (pipecli + ["--version"], env),
            "pipecli --help": (pipecli + ["--help"], env),
            "TAB: pipecli move 1 <TAB> (stages)": tab("pipecli move 1 ", env),
            "TAB: pipecli show Perso<TAB> (leads)": tab("pipecli show Perso", env),
            f"pipecli list --limit 20 ({args.leads:,} leads)": (pipecli + ["list", "--limit", "20"], env),
            f"pipecli show 1 ({args.leads:,} leads)": (pipecli + ["show", "1"], env),
        }
        load_before = os.getloadavg()[0]
        found = timed(commands, args.runs)
        load_after = os.getloadavg()[0]
    targets = dict.fromkeys(list(commands)[2:6], (first, 1.5))
    targets.update(dict.fromkeys(list(commands)[6:], (second, 1.0)))
    print(
        f"median of {args.runs} runs; load average {load_before:.1f} before, {load_after:.1f} after, on "
        f"{os.cpu_count()} cores (on a busy machine the CPU ratio is the steadier one)"
    )
    print(f"{'command':<46}{'wall':>8}{'ratio':>7}{'cpu':>8}{'ratio':>7}{'target':>8}  verdict (wall)")
    for name in (first, second):
        wall, cpu = found[name]
        print(f"{name:<46}{wall * 1000:>6.0f}ms{'':>7}{cpu * 1000:>6.0f}ms")
    for name, (floor, target) in targets.items():
        (wall, cpu), (floor_wall, floor_cpu) = found[name], found[floor]
        ratio = wall / floor_wall
        print(
            f"{name:<46}{wall * 1000:>6.0f}ms{ratio:>6.2f}x{cpu * 1000:>6.0f}ms{cpu / floor_cpu:>6.2f}x{target:>7.1f}x  "
            f"{'met' if ratio <= target else 'NOT met'} (floor {1 if floor == first else 2})"
        )


if __name__ == "__main__":
    main()
