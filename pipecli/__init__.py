"""pipecli: a sales-pipeline manager that lives in the terminal.

The package is split into a core (plain functions over one database, never printing) and a thin
command-line layer in `pipecli.cli`. Importing this package is cheap: heavy libraries are imported by
the modules that need them, so `pipecli --help` and `pipecli --version` start fast.

The version is written once, in `pyproject.toml`; `version()` reads it from the installed distribution's
metadata (or, in a source checkout that was never installed, from `pyproject.toml` itself).
"""

from __future__ import annotations

from pathlib import Path

# The name on the package index ("pipecli" there is another project); the command and this package stay `pipecli`.
DISTRIBUTION = "pipecli-sales"


def version() -> str:
    """Return pipecli's version: the installed distribution's, else the source checkout's pyproject.toml."""
    # importlib.metadata costs a few milliseconds: only `--version` and messages naming the version need it
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            # tomllib only for a checkout that was never installed
            import tomllib

            return str(tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["version"])
        except (OSError, KeyError, ValueError):
            return "unknown"


def __getattr__(name: str) -> str:
    """`pipecli.__version__`, computed when asked (the usual spelling; `version()` is the one source)."""
    if name == "__version__":
        return version()
    raise AttributeError(f"module 'pipecli' has no attribute {name!r}")
