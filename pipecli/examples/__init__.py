"""The examples shipped inside the package: a cron job mailing the stale-deal report and its mail helper, the
weekly changes mail, a sample CSV to import and a scripted session. They live here, as package data, so a
`pipx install` carries them: `pipecli examples` lists them and `pipecli examples NAME` prints one.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from pipecli.errors import NotFound


@dataclass(frozen=True)
class Example:
    """One shipped example: its file name and what it is for (its first comment line)."""

    name: str
    about: str


def _folder() -> resources.abc.Traversable:
    return resources.files(__name__)


def _about(text: str) -> str:
    """Return the first comment line of a script or crontab (after a #! line), or a CSV's column count."""
    lines = text.splitlines()
    for line in lines:
        if line.startswith("#!"):
            continue
        if line.startswith("#"):
            return line.lstrip("# ").strip()
        break
    header = lines[0] if lines else ""
    return f"sample leads to import: {header.count(',') + 1} columns" if header else ""


def catalogue() -> list[Example]:
    """Return every shipped example, by name; exists so `pipecli examples` can list what `NAME` prints."""
    found = []
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if entry.is_file() and not entry.name.endswith((".py", ".pyc")):
            found.append(Example(entry.name, _about(entry.read_text(encoding="utf-8"))))
    return found


def read(name: str) -> str:
    """Return the text of the example called `name` (`crontab`, `clean-and-mail.sh`...); NotFound names
    the ones there are."""
    names = [example.name for example in catalogue()]
    if name not in names:
        raise NotFound(f"no example called {name!r}; there are: {', '.join(names)}")
    return _folder().joinpath(name).read_text(encoding="utf-8")
