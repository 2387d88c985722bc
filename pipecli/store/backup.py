"""Backups of a SQLite pipeline file, and putting one back.

`backup` writes a consistent copy of the live database with `VACUUM INTO` (a snapshot even while other
commands write; free pages, which may still hold erased data, are not copied) into a new file readable by
the owner only, under a temporary name first, so a backup file is always complete or absent.
`restore` checks that the file is a healthy pipecli database, then copies it over the live one with
SQLite's online backup API: one transaction that waits behind the busy timeout for running commands, so
other processes never see half a database. PostgreSQL has its own tools (pg_dump / pg_restore).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from pipecli.errors import PipecliError
from pipecli.store import migrations
from pipecli.store.db import BUSY_TIMEOUT_SECONDS, Store, translate_error
from pipecli.store.files import (
    create_private_file,
    describe_file,
    refuse_if_protected,
    remove_stale_partials,
    require_text_name,
    same_file,
    sqlite_files,
)


def _require_sqlite(store: Store, what: str) -> Path:
    if store.path is None:
        raise PipecliError(f"{what} works on SQLite files; for PostgreSQL use pg_dump / pg_restore")
    return store.path


def _lead_count(conn: sqlite3.Connection) -> int:
    count: int = conn.execute("SELECT COUNT(*) FROM lead").fetchone()[0]
    return count


def backup(store: Store, destination: str, overwrite: bool = False) -> dict[str, Any]:
    """Write a consistent copy of `store`'s SQLite database to `destination` (mode 0600); return
    {path, bytes, leads}. Refuses an existing destination unless `overwrite`."""
    source = _require_sqlite(store, "backup")
    dest = Path(destination).expanduser().absolute()
    require_text_name(dest, "the backup file")
    refuse_if_protected(dest, sqlite_files(source), "the backup file")
    if dest.is_dir():
        raise PipecliError(f"{dest} is a folder; give a file name for the backup")
    if dest.exists() and not overwrite:
        raise PipecliError(f"{dest} exists; pass --yes to replace it")
    remove_stale_partials(dest)
    temp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
    try:
        temp.unlink(missing_ok=True)
        create_private_file(temp)  # VACUUM INTO accepts an empty file, and keeps its 0600 mode
        conn = sqlite3.connect(source, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            conn.execute("VACUUM INTO ?", (str(temp),))
        finally:
            conn.close()
        copy = sqlite3.connect(temp, isolation_level=None)
        try:
            copy.execute("PRAGMA journal_mode = DELETE")  # a backup is one self-contained file
            leads = _lead_count(copy)
        finally:
            copy.close()
        os.replace(temp, dest)
    except sqlite3.Error as exc:
        raise translate_error(exc, str(source)) from None
    except OSError as exc:
        raise PipecliError(f"cannot write the backup {dest}: {exc.strerror}") from None
    finally:
        temp.unlink(missing_ok=True)
    return {"path": str(dest), "bytes": dest.stat().st_size, "leads": leads}


def inspect_backup(path: str) -> dict[str, Any]:
    """Return {path, schema_version, leads} of a backup file, or raise PipecliError when it is not a
    healthy pipecli database this pipecli can read."""
    file = Path(path).expanduser().absolute()
    if not file.is_file():
        raise PipecliError(f"{file} does not exist or is not a file")
    looks = describe_file(file)
    if looks or file.stat().st_size == 0:
        raise PipecliError(f"{file} is not a pipecli database: it looks like {looks or 'an empty file'}")
    try:
        conn = sqlite3.connect(f"{file.as_uri()}?mode=ro", uri=True)
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise PipecliError(f"{file} is damaged ({check}); it cannot be restored")
            version = _schema_version(conn, file)
            leads = _lead_count(conn)
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise PipecliError(f"{file} is not a readable pipecli database ({exc})") from None
    except DBAPIError as exc:
        raise PipecliError(f"{file} is not a readable pipecli database ({exc.orig})") from None
    if version > migrations.LATEST:
        raise PipecliError(f"{file} was written by a newer pipecli (schema {version}); upgrade pipecli first")
    return {"path": str(file), "schema_version": version, "leads": leads}


def _schema_version(conn: sqlite3.Connection, file: Path) -> int:
    """Return the schema version of the open SQLite file `file`, read by `migrations.read_version` (the one
    answer to "is this a pipecli database?"); raise PipecliError naming the file when it is not one."""
    engine = create_engine("sqlite://", creator=lambda: conn, poolclass=StaticPool)
    try:
        with engine.connect() as sa_conn:
            version = migrations.read_version(sa_conn)
    except PipecliError as exc:
        raise PipecliError(str(exc).replace("this database", str(file), 1)) from None
    if version is None:  # no tables at all
        raise PipecliError(f"{file} is not a pipecli database (it holds other tables)")
    return version


def restore(target: str, path: str) -> dict[str, Any]:
    """Replace the SQLite database at `target` with the backup at `path` (checked with `inspect_backup`);
    return {path, leads}. The live file keeps its name and mode; the copy is one transaction."""
    require_text_name(path, "the backup")
    info = inspect_backup(path)
    live = Path(target)
    if same_file(live, info["path"]):
        raise PipecliError("the backup is the database in use; nothing to restore")
    for other, what in sqlite_files(live)[1:]:
        if same_file(info["path"], other):
            raise PipecliError(f"the backup {info['path']} is {what}; give a backup file")
    if live.exists():
        looks = describe_file(live)
        if looks:
            raise PipecliError(f"{live} is not a SQLite database (it looks like {looks}); move it away first")
    else:
        create_private_file(live)
    try:
        source = sqlite3.connect(f"{Path(info['path']).as_uri()}?mode=ro", uri=True)
        dest = sqlite3.connect(live, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            dest.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_SECONDS * 1000}")
            source.backup(dest)
            dest.execute("PRAGMA journal_mode = WAL")
        finally:
            source.close()
            dest.close()
    except sqlite3.Error as exc:
        raise translate_error(exc, str(live)) from None
    Store.open(str(live)).dispose()  # brings an older backup's schema up to date
    return {"path": info["path"], "leads": info["leads"]}
