"""Where `mail sync` reads mail from: a Maildir, an mbox file, or an IMAP folder over TLS.

Each source yields `Raw` messages (the bytes, a key stable within the source, a fallback time) in
batches; `sync` parses and logs them. Resume points differ by kind and are the source's to use:

- Maildir: the key of each file (its name before `:2,` flags, stable when a reader marks it seen);
  `sync` remembers the keys it has read, so a re-sync opens only new files.
- mbox: no resume point (an mbox is rewritten in place by its readers); every message is read again and
  the Message-ID alone keeps it from being logged twice.
- IMAP (`imaps://user@host[:port]/FOLDER`, or `imap://` with STARTTLS): the folder's UIDVALIDITY and the
  last UID read; a changed UIDVALIDITY means the server renumbered the folder, so it is read again whole.
  `retry_uids` (set by `sync` for `--create-leads`: messages read before that no lead matched) are
  fetched again besides the new ones; a UID the server no longer has is simply not returned.
  The password comes from `PIPECLI_IMAP_PASSWORD`, a netrc entry for the host, or the system keyring
  (`keyring`, when installed; service `pipecli`, user `user@host`); it is never stored nor printed.
"""

from __future__ import annotations

import imaplib
import os
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from pipecli.errors import PipecliError
from pipecli.mail.secrets import stored_password

BATCH = 500  # messages per batch: one transaction each, so an interrupted sync keeps what it finished
FETCH = 100  # UIDs per IMAP FETCH
TIMEOUT = 20.0  # seconds before an IMAP server that does not answer is given up


@dataclass(frozen=True)
class Raw:
    """One message as read: `key` identifies it within its source, `fallback_at` is the time to use when
    it has no readable Date (the file's or the server's)."""

    key: str
    data: bytes
    fallback_at: int | None


class Source:
    """A mailbox to read; `url` names it in `mail status` (never with a password)."""

    kind = ""

    def __init__(self, url: str):
        self.url = url

    def batches(self, seen: set[str]) -> Iterator[list[Raw]]:
        """Yield the messages whose key is not in `seen`, in batches of at most BATCH."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the source holds open."""


def open_source(spec: str) -> Source:
    """Return the source `spec` names: an imaps:// or imap:// URL, a Maildir folder or an mbox file; raise
    one clear line when it is none of them."""
    if spec.startswith(("imaps://", "imap://")):
        return Imap(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        if all((path / sub).is_dir() for sub in ("cur", "new", "tmp")):
            return Maildir(str(path.resolve()))
        raise PipecliError(f"{spec} is a folder but not a Maildir (it has no cur/, new/ and tmp/ folders)")
    if path.is_file():
        with path.open("rb") as handle:
            start = handle.read(5)
        if start in (b"", b"From "):
            return Mbox(str(path.resolve()))
        raise PipecliError(f"{spec} is not an mbox file (it does not begin with a 'From ' line) nor a Maildir")
    raise PipecliError(f"{spec}: no such Maildir, mbox file or imaps:// URL")


def _chunks(items: list[Raw]) -> Iterator[list[Raw]]:
    for i in range(0, len(items), BATCH):
        yield items[i : i + BATCH]


class Maildir(Source):
    kind = "maildir"

    def batches(self, seen: set[str]) -> Iterator[list[Raw]]:
        # os.scandir rather than mailbox.Maildir: the names and times come with the listing, and only new
        # files are opened
        batch: list[Raw] = []
        for sub in ("cur", "new"):
            with os.scandir(Path(self.url) / sub) as entries:
                for entry in sorted(entries, key=lambda e: e.name):
                    if entry.name.startswith("."):
                        continue
                    key = entry.name.split(":", 1)[0]
                    if key in seen:
                        continue
                    try:
                        data = Path(entry.path).read_bytes()
                        mtime = int(entry.stat().st_mtime)
                    except FileNotFoundError:  # moved between new/ and cur/ by a mail reader meanwhile
                        continue
                    seen.add(key)
                    batch.append(Raw(key, data, mtime))
                    if len(batch) >= BATCH:
                        yield batch
                        batch = []
        if batch:
            yield batch


class Mbox(Source):
    kind = "mbox"

    def batches(self, seen: set[str]) -> Iterator[list[Raw]]:
        import mailbox

        box = mailbox.mbox(self.url, create=False)
        mtime = int(Path(self.url).stat().st_mtime)
        try:
            items = [Raw(str(i), box.get_bytes(key), mtime) for i, key in enumerate(box.keys())]
        except (mailbox.Error, OSError, UnicodeError) as exc:
            raise PipecliError(f"{self.url}: cannot read this mbox file: {exc}") from None
        finally:
            box.close()
        yield from _chunks(items)


@dataclass(frozen=True)
class ImapUrl:
    """The parts of an IMAP URL: TLS from the start (imaps) or by STARTTLS (imap)."""

    tls: bool
    user: str
    host: str
    port: int
    folder: str

    @property
    def display(self) -> str:
        scheme = "imaps" if self.tls else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.folder}"


def parse_imap_url(url: str) -> ImapUrl:
    """Return the parts of `imaps://user@host[:port]/FOLDER` (folder default INBOX); refuse a password in
    the URL, which would end up in shell history and in `mail status`."""
    parts = urlsplit(url)
    if parts.password is not None:
        raise PipecliError("put the IMAP password in PIPECLI_IMAP_PASSWORD, a netrc entry or the keyring, not the URL")
    if not parts.username or not parts.hostname:
        raise PipecliError(f"{parts.scheme}:// URL needs a user and a host: {parts.scheme}://user@host/INBOX")
    tls = parts.scheme == "imaps"
    try:
        port = parts.port or (993 if tls else 143)
    except ValueError:
        raise PipecliError(f"{url}: the port is not a number") from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return ImapUrl(tls, unquote(parts.username), parts.hostname, port, folder)


def imap_password(user: str, host: str) -> str:
    """Return the IMAP password: `PIPECLI_IMAP_PASSWORD`, else a netrc entry for `host` (with this login
    or none), else the keyring (service `pipecli`, user `user@host`) when `keyring` is installed
    (`mail.secrets`); none of them: an error saying where to put it."""
    found = stored_password("PIPECLI_IMAP_PASSWORD", "pipecli", user, host)
    if found:
        return found
    raise PipecliError(
        f"no IMAP password for {user}@{host}: set PIPECLI_IMAP_PASSWORD, add a netrc entry "
        f"(machine {host} login {user} password ...), or store it with keyring (service pipecli)"
    )


class Imap(Source):
    kind = "imap"

    def __init__(self, url: str):
        self.parts = parse_imap_url(url)
        super().__init__(self.parts.display)
        self.conn: imaplib.IMAP4 | None = None
        self.uidvalidity: int | None = None
        self.resume_uid = 0  # read only UIDs above this (set by `sync` from the stored state)
        self.retry_uids: list[int] = []  # and these, at or below it (set by `sync`)
        self.last_uid = 0  # the highest UID read so far

    def connect(self) -> None:
        """Log in and select the folder read-only; each failure is one line that never holds the password."""
        p = self.parts
        password = imap_password(p.user, p.host)
        where = f"{p.host}:{p.port}"
        context = ssl.create_default_context()
        try:
            if p.tls:
                self.conn = imaplib.IMAP4_SSL(p.host, p.port, ssl_context=context, timeout=TIMEOUT)
            else:
                self.conn = imaplib.IMAP4(p.host, p.port, timeout=TIMEOUT)
                if "STARTTLS" not in self.conn.capabilities:
                    raise PipecliError(f"IMAP server {where} offers no STARTTLS: use imaps:// (no password in clear)")
                self.conn.starttls(ssl_context=context)
        except ssl.SSLError as exc:
            raise PipecliError(f"TLS with IMAP server {where} failed: {exc.reason or exc}") from None
        except TimeoutError:
            raise PipecliError(f"IMAP server {where} did not answer within {TIMEOUT:g} s") from None
        except OSError as exc:
            raise PipecliError(f"cannot reach IMAP server {where}: {exc.strerror or exc}") from None
        except imaplib.IMAP4.error as exc:
            raise PipecliError(f"IMAP server {where} refused the connection: {exc}") from None
        try:
            self.conn.login(p.user, password)
        except imaplib.IMAP4.abort as exc:
            raise PipecliError(f"IMAP server {where} dropped the connection: {exc}") from None
        except imaplib.IMAP4.error:
            raise PipecliError(f"IMAP login to {where} as {p.user} failed: wrong user or password") from None
        status, _ = self._call(self.conn.select, _quote(p.folder), readonly=True)
        if status != "OK":
            raise PipecliError(f"IMAP server {where} has no folder {p.folder!r}")
        found = self.conn.response("UIDVALIDITY")[1]
        self.uidvalidity = int(found[0]) if found and found[0] else None

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Return what an IMAP command returned; a server error or a broken connection becomes one line."""
        where = f"{self.parts.host}:{self.parts.port}"
        try:
            return method(*args, **kwargs)
        except (imaplib.IMAP4.error, OSError) as exc:
            raise PipecliError(f"IMAP server {where} failed: {exc}") from None

    def batches(self, seen: set[str]) -> Iterator[list[Raw]]:
        conn = self.conn
        assert conn is not None, "connect() first"
        self.last_uid = self.resume_uid
        status, data = self._call(conn.uid, "SEARCH", f"UID {self.resume_uid + 1}:*")
        if status != "OK":
            raise PipecliError(f"IMAP search failed: {data!r}")
        # "N:*" always names the last message, even when its UID is below N
        uids = sorted(u for u in (int(x) for x in (data[0] or b"").split()) if u > self.resume_uid)
        uids = sorted(set(self.retry_uids) - set(uids)) + uids
        batch: list[Raw] = []
        for i in range(0, len(uids), FETCH):
            for uid, body, internal in self._fetch(uids[i : i + FETCH]):
                batch.append(Raw(f"{self.uidvalidity}:{uid}", body, internal))
                self.last_uid = max(self.last_uid, uid)
                if len(batch) >= BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def _fetch(self, uids: list[int]) -> list[tuple[int, bytes, int | None]]:
        assert self.conn is not None
        status, data = self._call(self.conn.uid, "FETCH", ",".join(map(str, uids)), "(UID INTERNALDATE BODY.PEEK[])")
        if status != "OK":
            raise PipecliError(f"IMAP fetch failed: {data!r}")
        out = []
        for part in data:
            if not isinstance(part, tuple):
                continue
            head, body = part
            uid = _field(head, b"UID")
            internal = imaplib.Internaldate2tuple(head)
            at = int(time.mktime(internal)) if internal else None  # a local-time tuple
            if uid is not None:
                out.append((uid, body, at))
        return out

    def close(self) -> None:
        if self.conn is not None:
            try:
                self.conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
            self.conn = None


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _field(head: bytes, name: bytes) -> int | None:
    words = head.replace(b"(", b" ").replace(b")", b" ").split()
    for i, word in enumerate(words[:-1]):
        if word.upper() == name:
            try:
                return int(words[i + 1])
            except ValueError:
                return None
    return None
