"""The weekly check CI's pins hide: install pipecli with the NEWEST release of every dependency its bounds in
pyproject.toml allow (no constraints.txt), print each version next to its pin in constraints.txt, then run
the suite against that install and say whether it passed.

    python benchmarks/newest_deps.py                       # the whole suite, on both cores
    python benchmarks/newest_deps.py -- -x -q tests/test_layout.py tests/test_leads.py
    PIPECLI_TEST_PG_URL=postgresql://... python benchmarks/newest_deps.py   # PostgreSQL too

Exit status: the suite's (0 when everything passed with the newest versions). A failure here is a pin to
raise with care (or a bound to tighten), not a broken main: CI installs with constraints.txt.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT

EXTRAS = "dev,postgres,bench"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned() -> dict[str, str]:
    """Return constraints.txt as {package: version}."""
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[_canonical(name)] = version.strip()
    return pins


def installed(python: Path) -> dict[str, str]:
    """Return the venv's installed distributions as {package: version}."""
    out = subprocess.run([python, "-m", "pip", "freeze", "--all"], capture_output=True, text=True, check=True).stdout
    return {_canonical(n): v for n, _, v in (line.partition("==") for line in out.splitlines()) if v}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pytest_args", nargs="*", help="arguments for pytest (after --); default: -n 2 -q")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pipecli-newest-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        python = venv / "bin" / "python"
        started = time.perf_counter()
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--upgrade", "--upgrade-strategy", "eager", f"{ROOT}[{EXTRAS}]"],
            check=True,
        )
        install_s = time.perf_counter() - started
        pins, now = pinned(), installed(python)
        names = sorted((pins.keys() | now.keys()) - {"pipecli-sales", "pip", "setuptools"})
        width = max(len(n) for n in names)
        print(f"{'package':<{width}}  {'pinned (constraints.txt)':>24}  {'newest allowed':>16}")
        newer = 0
        for name in names:
            old, new = pins.get(name, "-"), now.get(name, "-")
            mark = "" if old == new else "  <- differs"
            newer += bool(mark)
            print(f"{name:<{width}}  {old:>24}  {new:>16}{mark}")
        print(f"{newer} of {len(names)} differ from the pins; installed in {install_s:.0f}s")
        # from a folder holding only the tests and pyproject.toml: the installed package is what runs
        suite = Path(tmp) / "suite"
        suite.mkdir()
        subprocess.run(
            ["cp", "-r", str(ROOT / "tests"), str(ROOT / "pyproject.toml"), str(ROOT / "README.md"), str(suite)],
            check=True,
        )
        started = time.perf_counter()
        status = subprocess.run(
            [python, "-m", "pytest", "-p", "no:cacheprovider", *(args.pytest_args or ["-n", "2", "-q"])],
            cwd=suite,
            env={**os.environ, "PIPECLI_TEST_INSTALLED": "1"},
        ).returncode
        print(
            f"suite with the newest versions: {'passed' if status == 0 else f'FAILED (exit {status})'} "
            f"in {time.perf_counter() - started:.0f}s (CI runs the same suite with the pinned versions)"
        )
        return status


if __name__ == "__main__":
    sys.exit(main())
