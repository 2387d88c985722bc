"""Files on disk: what a file is by its first bytes, and creating files only their owner can read.

Every path pipecli opens or writes that is not the database connection itself goes through here, so the
checks (magic bytes, private modes) have one definition.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from pipecli.errors import PipecliError

SQLITE_MAGIC = b"SQLite format 3\x00"


_MAGICS = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx or .docx file?)",
    b"%PDF": "a PDF document",
    b"\xd0\xcf\x11\xe0": "an old Microsoft Office file (.xls?)",
    b"\x1f\x8b": "a gzip file",
    b"\x89PNG": "a PNG image",
}


def sniff_magic(head: bytes) -> str | None:
    """Return what a file starting with `head` is when its magic bytes say so (a SQLite database, a ZIP
    archive, a PDF...), else None."""
    if head.startswith(SQLITE_MAGIC):
        return "a SQLite database"
    for magic, what in _MAGICS.items():
        if head.startswith(magic):
            return what
    return None


def describe_file(path: Path) -> str | None:
    """Return what a non-SQLite file looks like (for error messages), or None if it is SQLite or empty."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head or head == SQLITE_MAGIC:
        return None
    what = sniff_magic(head)
    if what:
        return what
    try:
        head.decode("utf-8")
        return "a text file"
    except UnicodeDecodeError:
        return "a binary file of unknown type"


def create_private_file(path: Path) -> None:
    """Create `path` (and its folders) readable and writable by the owner only, if it does not exist."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)


def remove_stale_partials(path: Path) -> None:
    """Remove the hidden `.NAME.PID.partial` copies a killed writer of `path` left beside it (whole
    database copies, personal data): those whose process no longer runs."""
    for partial in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        pid = partial.name[len(path.name) + 2 : -len(".partial")]
        if pid.isdigit() and not _running(int(pid)):
            partial.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    """Return True when process `pid` exists (also when it belongs to another user)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def same_file(a: str | Path, b: str | Path) -> bool:
    """Return True when `a` and `b` name the same file on disk: the same device and inode when both exist
    (whatever symlinks, `..` or hard links lead there), else the same fully resolved path.

    Path strings are never compared as given: `DIR/../DIR/live.db` and a symlink to the live database are
    the live database."""
    first, second = Path(a).expanduser(), Path(b).expanduser()
    try:
        one, two = os.stat(first), os.stat(second)
    except OSError:
        return os.path.realpath(first) == os.path.realpath(second)
    return (one.st_dev, one.st_ino) == (two.st_dev, two.st_ino)


def sqlite_files(database: str | Path) -> list[tuple[str | Path, str]]:
    """Return the files of a SQLite database with what each is (the file, its write-ahead log, its shared
    memory, its rollback journal): what no other output of pipecli may overwrite."""
    path = Path(database)
    found: list[tuple[str | Path, str]] = [(path, "the database")]
    for suffix, what in (("-wal", "write-ahead log"), ("-shm", "shared memory file"), ("-journal", "journal")):
        found.append((path.with_name(path.name + suffix), f"the database's {what}"))
    return found


def refuse_if_protected(
    path: str | Path, protected: Iterable[tuple[str | Path, str]], what: str = "the output"
) -> None:
    """Raise PipecliError when `path` is one of the `protected` files (pairs of a path and what it is), by
    `same_file`; every writer of a path the user gives checks it first, so no output replaces the
    database, its journal or the command's own input."""
    for other, name in protected:
        if same_file(path, other):
            raise PipecliError(f"{what} {path} is {name}; give another file")


class PrivateOutput:
    """A file written whole or not at all, readable by its owner only: it is written to a hidden temporary
    file (mode 0600, created new, never through a symlink) beside `path`, and only `commit` puts it in
    place, by a rename; `discard` (or leaving the `with` block on an error) removes it and leaves `path`
    as it was. Used for the `--rejects` file, which holds personal data.

    Refused before anything is written: a protected file (see `refuse_if_protected`), a symlink, a folder,
    a missing folder, and an existing file unless `force`. `keep` says whether leaving the `with` block
    normally commits (set it False when there turned out to be nothing to write)."""

    def __init__(
        self,
        path: str | Path,
        *,
        what: str,
        force: bool = False,
        protected: Iterable[tuple[str | Path, str]] = (),
        encoding: str = "utf-8",
    ) -> None:
        self.path = Path(path).expanduser()
        self.what, self.force, self.keep = what, force, True
        refuse_if_protected(self.path, protected, what)
        if self.path.is_symlink():
            raise PipecliError(f"{what} {path} is a symbolic link; give the file itself")
        if self.path.is_dir():
            raise PipecliError(f"{what} {path} is a folder; give a file name")
        if not self.path.parent.is_dir():
            raise PipecliError(f"{what} {path}: the folder {self.path.parent} does not exist")
        if self.path.exists() and not force:
            raise PipecliError(f"{what} {path} exists; pass --force to replace it")
        self.temp = self.path.with_name(f".{self.path.name}.{os.getpid()}.partial")
        try:
            self.temp.unlink(missing_ok=True)
            fd = os.open(self.temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise PipecliError(f"cannot write {what} {path}: {exc.strerror}") from None
        self.stream: TextIO = open(fd, "w", encoding=encoding, newline="")

    def commit(self) -> None:
        """Put the written file in place (a rename: atomic, and never through a symlink at `path`)."""
        try:
            self.stream.close()
            if not self.force and self._link():
                return
            os.replace(self.temp, self.path)
        except FileExistsError:
            self.discard()
            raise PipecliError(f"{self.what} {self.path} appeared meanwhile; pass --force to replace it") from None
        except OSError as exc:
            self.discard()
            raise PipecliError(f"cannot write {self.what} {self.path}: {exc.strerror}") from None

    def _link(self) -> bool:
        """Return True when the file was put in place by a hard link, which fails rather than replace a
        file that appeared meanwhile; False on a file system without hard links (then rename)."""
        try:
            os.link(self.temp, self.path)
        except FileExistsError:
            raise
        except OSError:
            if self.path.exists():
                raise FileExistsError(self.path) from None
            return False
        self.temp.unlink()
        return True

    def discard(self) -> None:
        """Remove the temporary file; `path` stays as it was."""
        self.stream.close()
        self.temp.unlink(missing_ok=True)

    def __enter__(self) -> PrivateOutput:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if kind is None and self.keep:
            self.commit()
        else:
            self.discard()


def require_text_name(path: str | Path, what: str) -> None:
    """Raise a one-line PipecliError when `path` holds bytes that are not UTF-8 (a shell passes them as
    they are): SQLite takes file names as UTF-8 text, so such a name would fail half-way, after a file was
    made."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise PipecliError(f"{what} {str(path)!r} has a name that is not UTF-8 text; choose another name") from None


def read_bytes(path: str | Path) -> bytes:
    """Return the whole content of the regular file at `path` that the user named (a calendar, a settings
    file); raise a one-line PipecliError when it is missing, unreadable, a folder, a FIFO or a device (a FIFO
    would block for ever, a device may never end)."""
    try:
        mode = os.stat(path).st_mode
        if stat.S_ISDIR(mode):
            raise PipecliError(f"cannot read {path}: it is a folder")
        if not stat.S_ISREG(mode):
            raise PipecliError(f"cannot read {path}: not a regular file")
        return Path(path).read_bytes()
    except OSError as exc:
        raise PipecliError(f"cannot read {path}: {exc.strerror or exc}") from None
