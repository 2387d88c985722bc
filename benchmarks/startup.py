"""Start-up cost of everyday commands and of a TAB, side by side with the floors of importing the libraries.

    python benchmarks/startup.py [--runs 15] [--leads 10000]

Builds a database of 10,000 leads (imported from a generated CSV), then prints the median wall time of
`pipecli --version`, `pipecli --help`, three TAB completions (the stages for `move 1 <TAB>`, lead names for
`show Perso<TAB>`, owners for `list --owner <TAB>`: the last two read every lead, through the shell protocol
bash uses), `pipecli list --limit 20` and `pipecli show 1`,
next to two floors: `python -c "import typer"` and `python -c "import typer, sqlmodel, pendulum"`.

Targets: --help, --version and a TAB at most 1.5x the first floor (they load none of the core, and
build only the command they need); list and show at most 1.0x the second (the libraries they need, and
nothing else worth measuring). The machine's load average is printed beside the figures, and then, per TAB,
the CPU it spends once typer is imported, measured inside the process (what pipecli adds to the floor).
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common import ROOT, timed


def build(db: Path, leads: int, env: dict, python: str = sys.executable, cwd: Path | None = None) -> None:
    """Fill `db` with `leads` leads spread over the default pipeline's stages, owners and sources (imported
    by the pipecli of `python`, run in `cwd`)."""
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
    pipecli = [python, "-m", "pipecli", "--db", str(db)]
    subprocess.run(pipecli + ["import", str(csv_path)], env=env, capture_output=True, check=True, cwd=cwd)


def tab(words: str, env: dict) -> tuple[list[str], dict]:
    """Return the command and environment of one bash TAB after `words` (what bash's completion script runs)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return [sys.executable, "-m", "pipecli"], {
        **env,
        "COMP_WORDS": words,
        "COMP_CWORD": str(cword),
        "_PIPECLI_COMPLETE": "complete_bash",
    }


# a TAB through pipecli's entry point, printing on stderr the CPU milliseconds it took after `import typer`
# (up to its exit: the teardown a TAB skips is not counted, and `python -c "import typer"` pays its own)
AFTER_TYPER = (
    "import os, sys, time\n"
    "import typer\n"
    "start = time.process_time()\n"
    "real_exit = os._exit\n"
    "def exit_(code):\n"  # a TAB ends with os._exit (complete.exit_at_once)
    "    print((time.process_time() - start) * 1000, file=sys.stderr, flush=True)\n"
    "    real_exit(code)\n"
    "os._exit = exit_\n"
    "from pipecli.cli import main\n"
    "main()\n"
)


def after_typer(tabs: dict[str, tuple[list[str], dict]], runs: int) -> dict[str, float]:
    """Return, per TAB, the median CPU milliseconds it spends once typer is imported (measured inside the
    process: what pipecli adds to the floor, the figure a busy machine stretches least)."""
    found: dict[str, list[float]] = {name: [] for name in tabs}
    for _ in range(runs):
        for name, (_, env) in tabs.items():
            done = subprocess.run([sys.executable, "-c", AFTER_TYPER], env=env, capture_output=True, text=True)
            found[name].append(float(done.stderr.split()[-1]))
    return {name: statistics.median(times) for name, times in found.items()}


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
            "TAB: pipecli list --owner <TAB> (owners)": tab("pipecli list --owner ", env),
            f"pipecli list --limit 20 ({args.leads:,} leads)": (pipecli + ["list", "--limit", "20"], env),
            f"pipecli show 1 ({args.leads:,} leads)": (pipecli + ["show", "1"], env),
        }
        load_before = os.getloadavg()[0]
        found = timed(commands, args.runs)
        added = after_typer({name: cmd for name, cmd in commands.items() if name.startswith("TAB")}, args.runs)
        load_after = os.getloadavg()[0]
    targets = dict.fromkeys(list(commands)[2:7], (first, 1.5))
    targets.update(dict.fromkeys(list(commands)[7:], (second, 1.0)))
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

    print("CPU a TAB spends after `import typer` (inside the process, median):")
    for name, ms in added.items():
        print(f"  {name:<44}{ms:>6.1f}ms")


if __name__ == "__main__":
    main()
