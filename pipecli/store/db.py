"""Opening the database: how it is connected, and one transaction helper for every command.

`store.target.resolve_target` picks the database (`--db` > `PIPECLI_DB` > config `db` > the user data
folder); `Store` opens it (creating it only when the command asks: a command that only reads never
creates a database) (SQLite file or PostgreSQL URL), brings its schema up to date, and hands out
connections inside one transaction each: `store.write()` takes SQLite's write lock up front
(`BEGIN IMMEDIATE`) so concurrent cron jobs and shells queue behind the busy timeout (config `lock_wait`,
30 s by default) instead of failing half-way, and `store.read()` gives a consistent snapshot for reports. `store.bulk_write()` is `write()`
for one very big write (a large import).

On PostgreSQL two writers can still collide: the server aborts one of them with a serialisation failure
or a deadlock (SQLSTATE 40001, 40P01) and asks for the transaction to be run again. `store.write(work)`
does that: it runs `work(conn)` in one write transaction and, when the server aborts it so, rolls back and
runs it again, up to `RETRIES` times with a short random pause; each attempt starts from nothing (the
journal entry, the first-write hook), so only the run that commits leaves anything, and when the last
attempt fails too the user gets one line. `with store.write() as conn:` cannot run its block twice: there
such a failure is that one line at once. A write that must keep an advisory lock between its attempts (a
keyed import: no other keyed import runs in between) runs inside `store.holding(lock)`, whose transactions
all go through the one connection holding it.

SQLite files run in WAL mode, so reports read a snapshot while a writer works. A bulk write switches the
file to a rollback journal for its one transaction when no other connection has the file open: in WAL
mode every page of a million-row import is written twice (into the log, then into the file at the
checkpoint) and read back through the log; with a rollback journal it is written once, and a crash still
rolls the whole transaction back. Other commands wait for it (the busy timeout) instead of reading the
old snapshot. The file goes back to WAL after the write, or, after a crash (whenever it came: before the
write began, inside it, after its commit), when the next command opens it and finds it out of WAL mode.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar, overload

from sqlalchemy import Engine, create_engine, event, make_url, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from pipecli import DISTRIBUTION, config
from pipecli.errors import NoDatabase, PipecliError
from pipecli.formats import NUL_REFUSED, nul_in
from pipecli.store import access, migrations
from pipecli.store.faults import kill_point
from pipecli.store.files import create_private_file, describe_file
from pipecli.store.journal import KEY, Journal
from pipecli.store.sql import serialise
from pipecli.store.target import is_url, redact, role_of, unusable_url

BUSY_TIMEOUT_SECONDS = 30  # the journal-mode switches' and backup's wait; a command's is config `lock_wait`
RETRIES = 5  # attempts of a PostgreSQL write the server aborted as a serialisation failure or deadlock
RETRY_PAUSE = 0.05  # seconds: the longest random pause before the second attempt, doubling after each
RETRYABLE = {"40001": "a serialisation failure", "40P01": "a deadlock"}  # SQLSTATE: the server asks to run again
T = TypeVar("T")


class _Conflict(Exception):
    """A write the server aborted so that it may be run again (`RETRYABLE`); `Store.write(work)` retries it."""

    def __init__(self, sqlstate: str, detail: str):
        super().__init__(detail)
        self.sqlstate, self.detail = sqlstate, detail


def _conflict_error(target: str, sqlstate: str, detail: str, attempts: int) -> PipecliError:
    """Return the one line of a write that collided with a concurrent one on each of its `attempts`."""
    tries = f" {attempts} times" if attempts > 1 else ""
    return PipecliError(
        f"database {redact(target)}: this write collided with a concurrent one{tries} ({RETRYABLE[sqlstate]}:"
        f" {detail}); nothing was changed: try again"
    )


def translate_error(exc: Exception, target: str) -> PipecliError:
    """Return a one-line PipecliError for a database driver error (locked, read-only, damaged, a PostgreSQL
    role without grants...)."""
    orig = getattr(exc, "orig", exc)
    text = str(orig or exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    sqlstate = getattr(orig, "sqlstate", None)
    if is_url(target) and sqlstate in RETRYABLE:
        return _conflict_error(target, sqlstate, text, 1)
    if is_url(target) and "timeout expired" in low:
        return PipecliError(
            f"cannot connect to database {redact(target)}: the server did not answer within"
            f" {config.connect_timeout()}s (config `connect_timeout`); is it up and reachable? Nothing was changed"
        )
    if is_url(target) and "row-level security" in low:
        # the policies' backstop (store.access): the core refuses with the exact cause before writing
        return PipecliError(
            f"permission denied: database role {role_of(target)} may not write this row ({text}); nothing was changed"
        )
    denied = re.search(r"permission denied for table (pipeline|stage|setting|team_member)\b", low)
    if is_url(target) and denied:
        return PipecliError(
            f"permission denied: database role {role_of(target)} may not change the {denied.group(1)} table:"
            " only a team admin changes pipelines, stages, settings and the team; nothing was changed"
        )
    if is_url(target) and (getattr(orig, "sqlstate", None) == "42501" or "permission denied" in low):
        # a role the tables were not granted to: on PostgreSQL the file's permissions have nothing to do with it
        return PipecliError(
            f"database role {role_of(target)} has no access to pipecli's tables in {redact(target)} ({text}); "
            "ask the database's owner to GRANT them: nothing was changed"
        )
    target = redact(target)
    if "locked" in low or "busy" in low:
        return PipecliError(
            f"database {target} stayed busy for {config.lock_wait():g}s (another command was writing to it;"
            " config `lock_wait` sets how long to wait): nothing was changed; try again"
        )
    if "readonly" in low or "read-only" in low or "permission denied" in low:
        return PipecliError(
            f"database {target} is read-only (pipecli needs to write to the file and its folder): nothing was changed"
        )
    if "disk is full" in low or "no space" in low:
        return PipecliError(f"the disk holding database {target} is full ({text}): free some space and try again")
    if "disk i/o error" in low:  # on a full disk, too, when SQLite's shared-memory file cannot grow
        return PipecliError(f"database {target}: disk I/O error; is its disk full or failing? ({text})")
    if "malformed" in low or "not a database" in low or "disk image" in low:
        return PipecliError(f"database {target} is damaged or not a database ({text}); restore a backup")
    if "unable to open" in low:
        return PipecliError(f"cannot open database {target}: {text}")
    return PipecliError(f"database error on {target}: {text}")


def _numeric_loader() -> type[Any]:
    """Return a psycopg loader that reads NUMERIC as SQLite gives such values: an int when integral
    (PostgreSQL's SUM of integer columns, such as money in minor units), else a float (AVG)."""
    # psycopg is the optional `postgres` extra: only a PostgreSQL connection needs it
    from psycopg.adapt import Loader

    class NumericLoader(Loader):
        def load(self, data: Any) -> int | float:
            text = bytes(data).decode("ascii")
            return int(text) if text.lstrip("-").isdigit() else float(text)

    return NumericLoader


def _refuse_nul(engine: Engine) -> None:
    """Make every statement through `engine` refuse a text parameter holding a NUL byte, before the driver
    sees it, with one line: on PostgreSQL the driver would fail less clearly, on SQLite store it (see
    formats.NUL_REFUSED). The statement fails, so its transaction rolls back."""

    @event.listens_for(engine, "before_cursor_execute")
    def _check(_conn: Any, _cursor: Any, _sql: str, parameters: Any, _context: Any, executemany: bool) -> None:
        # an executemany's rows; an "insertmanyvalues" batch (a core INSERT of many rows with RETURNING) comes
        # as an executemany of one flat parameter set (a tuple on SQLite, a dict on PostgreSQL)
        many = (
            executemany
            and isinstance(parameters, (list, tuple))
            and isinstance(next(iter(parameters), ()), (dict, list, tuple))
        )
        for row in parameters if many else (parameters,):
            found = nul_in(row.values() if isinstance(row, dict) else row or ())
            if found is not None:
                shown = found if len(found) <= 60 else found[:57] + "..."
                raise PipecliError(f"{shown!r} {NUL_REFUSED}: nothing was changed")


class Store:
    """An open pipecli database. Use `with store.write() as conn:` for changes (one transaction) and
    `with store.read() as conn:` for reports."""

    def __init__(self, target: str):
        self.target = target
        self.is_sqlite = not is_url(target)
        self.path: Path | None = Path(target) if self.is_sqlite else None
        self.engine = self._make_engine()
        self._journal: Journal | None = None
        self.created = False  # True when `open` made the database (file or schema)
        # What the domain does at the start of this store's first write transaction (the settings a new
        # database adopts, `settings.adopt`): it may return what to do once that transaction committed.
        # Run again in each write until one commits.
        self.first_write: Callable[[Connection], Callable[[], object] | None] | None = None
        self._pinned: Connection | None = None  # the connection `holding` holds a lock on, while it does

    @property
    def journal(self) -> Journal:
        """The journal of this invocation's changes (who, which command), attached to every write."""
        if self._journal is None:
            self._journal = Journal()
        return self._journal

    @journal.setter
    def journal(self, journal: Journal) -> None:
        self._journal = journal

    def _make_engine(self) -> Engine:
        if not self.is_sqlite:
            url = self.target
            unusable = unusable_url(url)
            if unusable:  # sqlite:///x, mysql://...: refused before SQLAlchemy looks for a driver
                raise PipecliError(unusable)
            for prefix in ("postgresql://", "postgres://"):
                if url.startswith(prefix):
                    url = "postgresql+psycopg://" + url[len(prefix) :]
            try:
                # one invocation reuses its connection (the schema check, then the command): a new
                # PostgreSQL connection costs more than a SQLite file open
                # a server that accepts and never answers must not hang the command (a URL's own wins)
                args = {} if "connect_timeout" in make_url(url).query else {"connect_timeout": config.connect_timeout()}
                engine = create_engine(url, pool_size=1, max_overflow=4, connect_args=args)
            except ModuleNotFoundError:  # psycopg is the optional `postgres` extra
                raise PipecliError(
                    f"the PostgreSQL driver is not installed: pip install '{DISTRIBUTION}[postgres]'"
                ) from None
            except Exception as exc:  # bad URL, missing driver
                raise PipecliError(f"cannot use database URL {redact(self.target)}: {exc}") from None

            @event.listens_for(engine, "connect")
            def _on_pg_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.adapters.register_loader("numeric", _numeric_loader())

            _refuse_nul(engine)
            return engine

        wait = config.lock_wait()  # the busy timeout: how long a command waits for another one's write lock
        engine = create_engine(
            f"sqlite:///{self.target}",
            poolclass=NullPool,
            connect_args={"timeout": wait},
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver, so BEGIN IMMEDIATE below is what really runs.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute(f"PRAGMA busy_timeout = {round(wait * 1000)}")
            cur.execute("PRAGMA foreign_keys = ON")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA mmap_size = 1073741824")  # big reports read pages without copying them
            cur.close()

        _refuse_nul(engine)

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            if options.get("pipecli_bulk"):
                # before BEGIN: SQLite ignores this pragma inside a transaction (the connection is not reused)
                conn.exec_driver_sql("PRAGMA foreign_keys = OFF")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("pipecli_write") else "BEGIN")

        return engine

    @classmethod
    def open(
        cls,
        target: str,
        migrate: bool = True,
        seed: Callable[[Connection], object] | None = None,
        create: bool = False,
    ) -> Store:
        """Return a Store for `target` with its schema brought up to date, and the settings it holds for
        everyone installed in `config`.

        Only with `create` is a missing SQLite file created (mode 0600) and an empty database given the
        schema, `seed(conn)` filling it (the domain's starting data, see `pipelines.open_store`); `created`
        then says whether this call made it. Without `create` a missing file, or a database holding no
        schema, raises NoDatabase: a command that only reads never leaves an empty database behind a
        mistyped path."""
        created_file = False
        if not is_url(target):
            path = Path(target)
            if path.is_dir():
                raise PipecliError(f"database path {path} is a folder, not a file")
            if path.exists() and not path.is_file():  # /dev/null, a FIFO (which would hang), a socket
                raise PipecliError(f"database path {path} is not a regular file")
            if path.exists():
                if not os.access(path, os.R_OK):
                    raise PipecliError(f"database {path} cannot be read (permission denied)")
                looks = describe_file(path)
                if looks:
                    raise PipecliError(f"{path} is not a pipecli database: it looks like {looks}")
            elif not create:
                raise NoDatabase(
                    f"no database at {path}: nothing was created (check --db / $PIPECLI_DB, or create one with `pipecli db init`)"
                )
            else:
                try:
                    create_private_file(path)
                except OSError as exc:
                    raise PipecliError(f"cannot create database {path}: {exc.strerror}") from None
                created_file = True
        store = None
        try:
            store = cls(target)  # a bad config `lock_wait` fails here
            if migrate:
                store.created = store.ensure_current(seed, create=create) == 0
        except BaseException:
            if created_file:  # nothing of ours is in it: leave no empty file behind a failure
                if store is not None:
                    store.dispose()
                Path(target).unlink(missing_ok=True)
            raise
        if migrate:
            config.use_database(store.shared_settings())
        return store

    def ensure_current(self, seed: Callable[[Connection], object] | None = None, create: bool = True) -> int:
        """Bring the schema to `migrations.LATEST` and return the version found on opening (0: it was empty).

        An empty database gets the schema only with `create`, and then `seed(conn)` adds, in the same
        transaction, the data a new database starts with (the domain's, see `pipelines.open_store`); without
        it, NoDatabase says it is not initialised. A SQLite file a bulk write left out of WAL mode (cut short,
        see `bulk_write`) is put back first."""
        with self.read() as conn:
            try:
                found = migrations.read_version(conn)
            except PipecliError as exc:
                raise PipecliError(f"{self.target}: {exc}; nothing was changed") from None
            cut_short = (
                found is not None and self.is_sqlite and conn.exec_driver_sql("PRAGMA journal_mode").scalar() != "wal"
            )
        if cut_short:  # found is a version then: an empty database is never cut short
            self.end_bulk_journal()
        migrations.check_version(found, self.target, create)
        if found == migrations.LATEST:
            return found
        if self.is_sqlite:
            raw: Any = self.engine.raw_connection()  # outside any transaction: WAL cannot be set inside one
            try:
                raw.driver_connection.execute("PRAGMA journal_mode = WAL")
                raw.driver_connection.execute(f"PRAGMA application_id = {migrations.APPLICATION_ID}")
            finally:
                raw.close()
        with self.write() as conn:
            if migrations.upgrade(conn, self.target) is None and seed is not None:
                seed(conn)
        return found if found is not None else 0

    def shared_settings(self) -> dict[str, Any]:
        """Return the settings the database holds for everyone who opens it (`pipecli settings`), by
        dotted key, their values decoded from JSON; `Store.open` installs them in `config`."""
        with self.read() as conn:
            return {key: json.loads(value) for key, value in conn.execute(text("SELECT key, value FROM setting"))}

    @contextmanager
    def _transaction(self, write: bool, bulk: bool = False, retrying: bool = False) -> Iterator[Connection]:
        """Yield a connection in one transaction. With `retrying`, a PostgreSQL serialisation failure or
        deadlock raises `_Conflict` (rolled back, to be run again) instead of its one line."""
        try:
            with self._connect() as conn:
                if self.is_sqlite:
                    conn = conn.execution_options(pipecli_write=write, pipecli_bulk=bulk)
                journal = self.journal if write else None
                if journal is not None:
                    conn.info[KEY] = journal
                hook = self.first_write if write else None
                after = None
                try:
                    with conn.begin():
                        if hook is not None:
                            after = hook(conn)
                        yield conn
                        if write:
                            kill_point("write:before-commit")
                    if write:
                        kill_point("write:committed")
                except BaseException:
                    if journal is not None:
                        journal.rolled_back()
                    raise
                else:
                    if journal is not None:
                        journal.committed()
                    if hook is not None:
                        self.first_write = None
                    if after is not None:
                        after()
                finally:
                    access.forget_member(conn)  # a pooled connection's next transaction reads the team again
                    if journal is not None:
                        conn.info.pop(KEY, None)
        except DBAPIError as exc:
            sqlstate = getattr(exc.orig, "sqlstate", None)
            if retrying and not self.is_sqlite and sqlstate in RETRYABLE:
                raise _Conflict(sqlstate, str(exc.orig).strip().splitlines()[0]) from None
            raise translate_error(exc, self.target) from None
        except OverflowError:  # the driver refuses an id or a limit the user typed: no column holds it
            raise PipecliError(f"a number is too large for the database (the largest is {2**63 - 1})") from None
        except UnicodeEncodeError as exc:  # an argument that was not valid UTF-8 (kept as surrogates)
            raise PipecliError(f"a value is not valid UTF-8 text ({exc.object[exc.start : exc.end]!r})") from None

    @overload
    def write(self) -> AbstractContextManager[Connection]: ...

    @overload
    def write(self, work: Callable[[Connection], T]) -> T: ...

    def write(self, work: Callable[[Connection], T] | None = None) -> AbstractContextManager[Connection] | T:
        """Without `work`, return a context manager giving a connection in one write transaction (all or
        nothing). With it, return `work(conn)` run in one write transaction, run again from the start
        when PostgreSQL aborts it as a serialisation failure or deadlock (`RETRIES` attempts in all, see
        the module docstring): `work` must only write through `conn` (it prints nothing), so a retry is
        invisible but for the time it took."""
        if work is None:
            return self._transaction(write=True)
        for attempt in range(1, RETRIES + 1):
            try:
                with self._transaction(write=True, retrying=True) as conn:
                    return work(conn)
            except _Conflict as conflict:
                if attempt == RETRIES:
                    raise _conflict_error(self.target, conflict.sqlstate, conflict.detail, attempt) from None
                time.sleep(random.uniform(0, RETRY_PAUSE * 2 ** (attempt - 1)))  # apart from the other writer
        raise AssertionError("unreachable")  # the loop returns or raises

    @contextmanager
    def holding(self, lock: int, wait: Callable[[], float] | None = None) -> Iterator[None]:
        """Return a context manager holding the PostgreSQL advisory `lock` (`sql.serialise`, waiting at most
        `wait()` seconds for it) from its start to its end: every transaction in it runs on the one
        connection that holds it, so a `write(work)` run again keeps it between its attempts, and another
        transaction asking for it waits until the last attempt ended. Nothing to do on SQLite."""
        if self.is_sqlite or self._pinned is not None:
            yield
            return
        try:
            with self.engine.connect() as conn:
                serialise(conn, lock, wait, session=True)
                conn.commit()
                self._pinned = conn
                try:
                    yield
                finally:
                    self._pinned = None
                    conn.rollback()  # a failed attempt's transaction, if any was left open
                    conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": lock})
                    conn.commit()
        except DBAPIError as exc:
            raise translate_error(exc, self.target) from None

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """Yield a connection of the pool, or the one `holding` holds its lock on."""
        if self._pinned is not None:
            yield self._pinned
            return
        with self.engine.connect() as conn:
            yield conn

    @contextmanager
    def bulk_write(self) -> Iterator[Connection]:
        """Return a context manager like `write`, for one very big write: on SQLite, through a rollback
        journal when no other connection has the file open (see the module docstring), else as `write`.

        On SQLite the transaction does not check foreign keys row by row (a third of a million-row
        import's inserts): the caller writes only references it has resolved from the database itself."""
        switched = self.is_sqlite and self.set_journal_mode("delete", wait=False) == "delete"
        if switched:
            # a process dying from here on leaves the file out of WAL mode: the next command to open it
            # sees that and puts WAL back (`ensure_current`)
            kill_point("bulk:switched")
        try:
            with self._transaction(write=True, bulk=True) as conn:
                yield conn
        finally:
            if switched:
                self.end_bulk_journal(wait=True)

    def end_bulk_journal(self, wait: bool = False) -> None:
        """Put a SQLite file a bulk write switched to a rollback journal back in WAL mode; leave it when
        another connection has the file open (without `wait`), or it is read-only: the next command tries
        again, and the file works meanwhile, only with readers and writers waiting for each other."""
        self.set_journal_mode("wal", wait=wait)

    def set_journal_mode(self, mode: str, wait: bool) -> str | None:
        """Switch a SQLite file's journal mode outside any transaction; return the mode it is in after,
        or None when the file was busy (without `wait`, another connection having it open is enough)."""
        try:
            conn = sqlite3.connect(self.target, isolation_level=None, timeout=BUSY_TIMEOUT_SECONDS if wait else 0)
        except sqlite3.Error:
            return None
        try:
            found: str = conn.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0]
            return found
        except sqlite3.Error:
            return None
        finally:
            conn.close()

    def read(self) -> AbstractContextManager[Connection]:
        """Return a context manager giving a connection in one read transaction (a consistent snapshot)."""
        return self._transaction(write=False)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
