"""Files on disk: what a file is by its first bytes, and creating files only their owner can read.

Every path pipecli opens or writes that is not the database connection itself goes through here, so the
checks (magic bytes, private modes) have one definition.
"""

from __future__ import annotations

import os
from pathlib import Path

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
