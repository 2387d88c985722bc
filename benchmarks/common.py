"""What every benchmark script shares: pipecli from this checkout, the frozen clock, and the timers.

A script runs as `python benchmarks/X.py`, so Python puts this folder first on the path and `import common`
finds this module; importing it puts the checkout's root on the path too (pipecli and `tests.fixtures`
from this checkout, never an installed copy). Nothing here starts a process or opens a database on import.

- `NOW` is the suite's frozen now (`tests/conftest.py`), which the generated databases are built around;
  `freeze()` sets it (and one time zone, UTC) for this process unless the caller set them.
- `new_database(path)` creates an empty pipecli database file (pipecli's own schema and default pipeline)
  for a script to fill in bulk through the standard sqlite3 module.
- `pipecli(db, *args)` is the argv of one whole command; `command_env(folder)` its environment: pipecli
  from this checkout, the frozen now, no one's config file (the documented defaults).
- Timers: `best` (the shortest of N calls in-process, a warm cache's figure), `best_result` (the same and
  the last result), `run` (one subprocess: its wall and CPU seconds, children's user + system from
  `getrusage`), `timed` (the median wall and CPU of N runs of several commands taking turns). A shared
  machine stretches wall time; CPU time is the steadier figure, so the scripts print both where they can.
"""

from __future__ import annotations

import os
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NOW = "2026-11-28T09:00:00+00:00"  # the suite's frozen now
NOW_TS = 1795856400  # the same moment in epoch seconds
DAY = 86400

T = TypeVar("T")


def freeze() -> None:
    """Set PIPECLI_NOW to NOW and TZ to UTC for this process (and its children), unless already set."""
    os.environ.setdefault("PIPECLI_NOW", NOW)
    os.environ.setdefault("TZ", "UTC")
    time.tzset()


def new_database(path: Path) -> tuple[sqlite3.Connection, int]:
    """Create an empty pipecli database at `path` (a file there before, and its -wal/-shm, removed), its
    schema and default pipeline pipecli's own; return an sqlite3 connection to it in autocommit mode, and
    pipecli's now (epoch seconds, `freeze()` set first) to date the rows by."""
    freeze()
    from pipecli import clock
    from pipecli.pipelines import open_store

    for old in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        old.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    open_store(str(path), create=True).dispose()
    return sqlite3.connect(path, isolation_level=None), clock.now_ts()


def pipecli(db: Path | str, *args: str) -> list[str]:
    """Return the argv of the whole command `pipecli --db DB ARGS...` run by this Python."""
    return [sys.executable, "-m", "pipecli", "--db", str(db), *args]


def command_env(folder: Path | str, **extra: str) -> dict[str, str]:
    """Return the environment of a whole command: this one's, with pipecli from this checkout, PIPECLI_NOW
    at NOW and PIPECLI_CONFIG at a file in `folder` that does not exist (the documented defaults), then
    `extra`."""
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PIPECLI_NOW": NOW,
        "PIPECLI_CONFIG": str(Path(folder) / "none.toml"),
        **extra,
    }


def best_result(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Return the shortest wall time in seconds of `repeat` calls of `fn()`, and the last call's result."""
    times = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def best(fn: Callable[[], Any], repeat: int) -> float:
    """Return the shortest of `repeat` timings of `fn()` in seconds (a warm cache's figure)."""
    return best_result(fn, repeat)[0]


def children_cpu() -> float:
    """Return the CPU seconds (user + system) of this process's finished children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(argv: list[str], env: dict[str, str] | None = None, **kwargs: Any) -> tuple[float, float]:
    """Run `argv` once (output to /dev/null unless `kwargs` say otherwise; a failure raises); return its
    (wall, CPU) seconds."""
    kwargs.setdefault("stdout", subprocess.DEVNULL)
    kwargs.setdefault("stderr", subprocess.DEVNULL)
    cpu = children_cpu()
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, **kwargs)
    return time.perf_counter() - started, children_cpu() - cpu


def timed(commands: dict[str, tuple[list[str], dict[str, str]]], runs: int) -> dict[str, tuple[float, float]]:
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
            wall, cpu = run(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    return {name: (statistics.median(walls[name]), statistics.median(cpus[name])) for name in commands}


def load() -> str:
    """Return the machine's load averages (1, 5, 15 minutes) as text, to print beside the figures."""
    return "load " + " / ".join(f"{x:.1f}" for x in os.getloadavg())
