"""Which database a command uses, and how to name it in a message: light enough for TAB completion.

`resolve_target` picks the database (`--db` > `PIPECLI_DB` > config `db` > the user data folder). This
module imports only the standard library and the config reader, so shell completion can find the file
without loading SQLAlchemy (`pipecli.cli.complete`).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from pipecli import config

POSTGRESQL_SCHEMES = ("postgresql://", "postgres://", "postgresql+psycopg://")  # the URLs pipecli connects to


def is_url(target: str) -> bool:
    """Return True when `target` is a database URL (postgresql://...) rather than a file path."""
    return "://" in target


def unusable_url(target: str) -> str | None:
    """Return why database URL `target` cannot be used (sqlite:///x, mysql://...: it is not PostgreSQL's),
    or None when it can."""
    if target.startswith(POSTGRESQL_SCHEMES):
        return None
    return (
        f"cannot use database URL {redact(target)}: name a SQLite database by its file's path (no sqlite://),"
        " a PostgreSQL one as postgresql://user@host/db"
    )


def resolve_target(cli_db: str | None = None) -> str:
    """Return the database to use: `--db`, else `PIPECLI_DB`, else config `db`, else the default file."""
    for candidate in (cli_db, os.environ.get("PIPECLI_DB"), config.value("db", None)):
        if candidate:
            candidate = str(candidate)
            return candidate if is_url(candidate) else str(Path(candidate).expanduser().absolute())
    # platformdirs only when nothing names the database
    import platformdirs

    return str(Path(platformdirs.user_data_dir("pipecli")) / "pipeline.db")


def redact(target: str) -> str:
    """Return `target` fit for messages: a URL's password is replaced by ***."""
    if not is_url(target):
        return target
    # up to the last @: a password may hold / or @ itself; a `?password=` parameter is a password too
    hidden = re.sub(r"(://[^:/@]*):.*@", r"\1:***@", target)
    return re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", hidden)


def role_of(url: str) -> str:
    """Return the PostgreSQL role a URL connects as: its user, else $PGUSER, else the login name (libpq's order)."""
    # urllib and getpass only for a PostgreSQL message
    import getpass
    from urllib.parse import unquote, urlsplit

    user = urlsplit(url).username
    return unquote(user) if user else os.environ.get("PGUSER") or getpass.getuser()
