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


def _installed_version() -> str | None:
    """Return the version in the name of the installed distribution's `.dist-info` folder on sys.path (the
    first, as importlib.metadata finds it), or None: the wheel and the editable install both write
    `pipecli_sales-0.1.0.dist-info` (PEP 427). Importing importlib.metadata (the email package, zipfile,
    csv) to read the same figure cost a third of `pipecli --version`."""
    import os
    import sys

    prefix = DISTRIBUTION.replace("-", "_").lower() + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:  # a zip file, a folder gone
            continue
        for name in names:
            if name.lower().startswith(prefix) and name.endswith(".dist-info"):
                return name[len(prefix) : -len(".dist-info")]
    return None


def version() -> str:
    """Return pipecli's version: the installed distribution's, else the source checkout's pyproject.toml."""
    found = _installed_version()
    if found is not None:
        return found
    # importlib.metadata only when no dist-info folder was found (an egg, a zip): it costs a few milliseconds
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
