"""One object per invocation: the database it works on and every decision about the terminal.

`Context` holds what a command needs from its surroundings: the `--db` option and the store opened from
it (lazily, on first use, through `pipelines.open_store`), the three streams, whether each is a terminal,
whether we may prompt, whether colour is on, the terminal's width, the database's currency and the
locale. Each of these is decided here and nowhere else: the output layer (`cli.output`) asks the context
whether stdout is a terminal, and a confirmation asks it whether it can prompt.

Anything left unset is read from the process when asked (the streams are `sys.stdout`... at the moment
of writing, so typer's CliRunner, which swaps them, is honoured), so `Context()` is the real thing. A
test sets what it needs instead of opening a pseudo-terminal:

    runner.invoke(app, ["list"], obj=Context(stdout_tty=True, width=100))

`PipecliGroup.invoke` installs the invocation's context (the one handed in as `obj`, else a new one)
for the length of the command and closes its store afterwards; `current()` returns it. Code that runs
outside a command (a test rendering a view) installs one with `using()`.

This module stays light: `pipecli --help` imports it, and it imports neither the store nor rich.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import shutil
import sys
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from pipecli.store.db import Store

_active: contextvars.ContextVar[Context | None] = contextvars.ContextVar("pipecli_context", default=None)


def _isatty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed stream, or an object without isatty
        return False


class Context:
    """The invocation's database and terminal. Every argument left None is found out when first needed."""

    def __init__(
        self,
        *,
        db: str | None = None,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdin_tty: bool | None = None,
        stdout_tty: bool | None = None,
        stderr_tty: bool | None = None,
        colour: bool | None = None,
        width: int | None = None,
        currency: str | None = None,
        locale: str | None = None,
    ) -> None:
        self.db = db
        self._stdin, self._stdout, self._stderr = stdin, stdout, stderr
        self._ttys = {"stdin": stdin_tty, "stdout": stdout_tty, "stderr": stderr_tty}
        self._colour = colour
        self._width = width
        self._currency = currency
        self.locale = locale  # a slot: which locale shows amounts and dates (None: the program's fixed form)
        self._store: Store | None = None
        self.shadowed: list[tuple[str, object, object]] = []  # config keys the database's settings override
        self.defuse_csv = False  # set by a command's --raw option (`common.RawOpt`): defuse its CSV unless --raw
        self.actor: str | None = None  # --as NAME: who the journal says made the changes
        self.argv: list[str] = []  # the command line, as the journal records it
        self.news: list[str] = []  # what opening the store did that the user should hear of (stderr)
        self.readings: list[str] = []  # how times given in words were read: said once the command succeeded
        self.pager = True  # False under --no-pager: long output goes straight to the terminal
        self.spool: object | None = None  # the output held for the pager while a command runs (`cli.output`)

    # --- the database --------------------------------------------------------------------------------

    def set_db(self, db: str | None) -> None:
        """Use the database `db` (a path or URL; None: $PIPECLI_DB, config, the default file) from now on."""
        self.close()
        self.db = db

    @property
    def target(self) -> str:
        """The database this invocation uses: --db, else $PIPECLI_DB, else config `db`, else the default file."""
        # --help imports this module: the config file is read only when a command asks for the database
        from pipecli.store.target import resolve_target

        return resolve_target(self.db)

    def store(self, create: bool = False) -> Store:
        """Return the invocation's Store, opened (and migrated) on first use.

        A command that can start a pipeline from nothing (add-lead, import, pipeline add, demo, db init)
        passes `create`: a missing database is then made and `news` holds the sentence saying so, for
        the caller to write on stderr; any other command fails on a missing database
        (`errors.NoDatabase`) instead of reporting on a new empty one."""
        if self._store is None:
            # --help imports this module: the store only when a command asks for the database
            from pipecli.pipelines import open_store

            store = open_store(self.target, create=create)
            store.journal = self.journal()
            self._store = store
            if store.created:
                # --help imports this module: the store only when a command asks for the database
                from pipecli.store.target import redact

                self.news.append(f"created a new database at {redact(self.target)}")
            # the database's shared settings are installed now (config.use_database): the file's, shadowed
            # by them, are reported once by `common.store`
            from pipecli import config

            self.shadowed = config.shadowed()
        return self._store

    @property
    def is_open(self) -> bool:
        """True once `store()` opened the invocation's database (until `close`)."""
        return self._store is not None

    def _database_exists(self) -> bool:
        """Return True when the target is a PostgreSQL URL or an existing file (reading a setting creates none)."""
        target = self.target
        return "://" in target or os.path.isfile(target)

    def journal(self):
        """Return a journal for this invocation's changes: its actor (`--as`, else as `resolve_actor`
        says) and its command line."""
        import shlex

        # the journal (and its config read) only when a command opens the store
        from pipecli.store.journal import Invocation, Journal
        from pipecli.store.target import redact

        # everyone who may read the lead reads its command line: a URL's password (`--db`, a mailbox) stays out
        command = " ".join(shlex.quote(redact(a)) for a in ["pipecli", *self.argv])
        return Journal(Invocation.current(command, self.actor))

    def close(self) -> None:
        """Dispose of the store, if one was opened; the next `store()` opens it again."""
        if self._store is not None:
            self._store.dispose()
            self._store = None
            # loaded with the store: the next invocation's database installs its own shared settings
            from pipecli import config

            config.use_database(None)

    # --- the streams and the terminal ----------------------------------------------------------------

    @property
    def stdin(self) -> IO[str]:
        return self._stdin or sys.stdin

    @property
    def stdout(self) -> IO[str]:
        return self._stdout or sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr or sys.stderr

    def _tty(self, name: str, stream: IO[str]) -> bool:
        told = self._ttys[name]
        return _isatty(stream) if told is None else told

    @property
    def stdin_tty(self) -> bool:
        """True when standard input is a terminal (someone can answer)."""
        return self._tty("stdin", self.stdin)

    @property
    def stdout_tty(self) -> bool:
        """True when stdout is a terminal: tables are drawn for people, ids come with a sentence."""
        return self._tty("stdout", self.stdout)

    @property
    def stderr_tty(self) -> bool:
        """True when stderr is a terminal (progress bars, prompts)."""
        return self._tty("stderr", self.stderr)

    @property
    def can_prompt(self) -> bool:
        """True when a question can be asked: it is written to stderr and answered on stdin, both terminals."""
        return self.stdin_tty and self.stderr_tty

    def colour(self, stderr: bool = False) -> bool:
        """Return whether to colour stdout (or stderr): on a terminal, or anywhere under FORCE_COLOR or
        CLICOLOR_FORCE; never under NO_COLOR, which wins over both."""
        if self._colour is not None:
            return self._colour
        if os.environ.get("NO_COLOR"):
            return False
        return self.colour_forced or (self.stderr_tty if stderr else self.stdout_tty)

    @property
    def colour_forced(self) -> bool:
        """True when FORCE_COLOR or CLICOLOR_FORCE asks for colour (and NO_COLOR does not forbid it): tables
        are then drawn as on a terminal even into a pipe (`FORCE_COLOR=1 pipecli list | less -R`)."""
        if self._colour is not None or os.environ.get("NO_COLOR"):  # a colour told by a test decides colour only
            return False
        return any(os.environ.get(v, "") not in ("", "0") for v in ("FORCE_COLOR", "CLICOLOR_FORCE"))

    @property
    def width(self) -> int:
        """The terminal's width in columns: $COLUMNS, else the terminal's size, else 80."""
        if self._width is not None:
            return self._width
        return shutil.get_terminal_size((80, 24)).columns

    @property
    def height(self) -> int:
        """The terminal's height in lines: $LINES, else the terminal's size, else 24."""
        return shutil.get_terminal_size((80, 24)).lines

    def pager_command(self) -> str | None:
        """Return the shell command long output is paged through, or None when it is not paged.

        Paged only when stdout really is a terminal (not a pipe, a file, or a test's captured stream) and
        `--no-pager` was not given; the command is $PIPECLI_PAGER, else $PAGER, else `less -FRX`, as git
        and gh do; an empty one or `cat` means no pager."""
        if not (self.pager and self.stdout_tty and _isatty(self.stdout)):
            return None
        command = os.environ.get("PIPECLI_PAGER", os.environ.get("PAGER", "less -FRX")).strip()
        return None if command in ("", "cat") else command

    # --- what values look like -----------------------------------------------------------------------

    @property
    def currency(self) -> str:
        """The database's currency code (config `currency` today), read once per invocation."""
        if self._currency is None:
            # --help imports this module: the config file is read only when a command needs it
            from pipecli import config

            if self._store is None and self._database_exists():
                self.store()  # the database's shared currency, when it sets one, wins over the file's
            self._currency = config.currency()
        return self._currency


def current() -> Context:
    """Return the context of the running command; outside one, a new context read from the process."""
    return _active.get() or Context()


@contextlib.contextmanager
def using(ctx: Context) -> Iterator[Context]:
    """Install `ctx` as the current context for the block, then close its store and put back the previous one."""
    token = _active.set(ctx)
    try:
        yield ctx
    finally:
        try:
            ctx.close()
        finally:
            _active.reset(token)
