"""`mail sync`: each message of a mailbox logged once, as an activity on the lead it concerns.

Design, for the three failures users of synced CRMs complain of most:

- **No duplicates.** A message is known by its Message-ID (a `sha256:` hash of its bytes when it has none),
  and `activity.message_id` is unique: a message already logged is skipped, whichever source or sync read it.
- **Nothing lost or doubled when interrupted.** Messages are written in batches (`sources.BATCH`), each one
  transaction holding its activities, the source's resume point and its counts. A sync killed mid-way
  keeps the batches it finished; the next one resumes after them and logs the rest exactly once. A batch
  PostgreSQL aborts for a concurrent write (serialisation failure, deadlock) runs again (`Store.write(work)`):
  an attempt changes nothing outside its transaction (its counts and unmatched keys are kept apart and added
  once it commits; the leads' addresses are read again after an attempt that added leads), so a retried
  batch is counted, remembered and logged once.
- **A later `--create-leads` finds what was read before.** A message read without a lead matching it is
  remembered as unmatched (`mail_seen` key `unmatched:<key>`, for a Maildir file or an IMAP UID): a sync
  with `--create-leads` reads those again, besides the new ones, and adds their leads; the Message-ID keeps
  any of them from being logged twice. (An mbox is read whole every time anyway.)
- **A re-sync with nothing new costs little more than opening the database.** The parsers, the leads'
  addresses and the lead-writing core are loaded only once there is a message to read, and a Maildir
  re-sync opens no file it has read before; known Message-IDs are skipped with one indexed query per batch.
- **Failures are visible.** Every sync leaves its time, counts or error on its `mail_source` row, which
  `mail status` shows. An error is recorded in a transaction of its own, after the batch it broke was
  rolled back: no activity is ever logged half-way.

Which lead and which kind is `mail.match`'s; reading the mailbox is `mail.sources`'.
"""

from __future__ import annotations

import datetime as _dt
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import text

from pipecli import clock, config
from pipecli.errors import PipecliError
from pipecli.mail import match
from pipecli.mail.settings import settings as mail_settings
from pipecli.mail.sources import Imap, Raw, Source, open_source
from pipecli.store.sql import execute_in

if TYPE_CHECKING:
    from email.parser import BytesParser

    from sqlalchemy.engine import Connection

UNMATCHED = "unmatched:"  # the mail_seen key prefix of a message read that no lead matched


@functools.cache
def _parsers() -> tuple[BytesParser, BytesParser]:
    """Return the parsers: compat32 (raw string headers) to read every message, as policy.default's header
    objects cost more than the rest of a sync; policy.default only for the few messages whose text is read."""
    # imported at the first message: a re-sync with nothing new parses none
    from email import policy
    from email.parser import BytesParser

    return BytesParser(), BytesParser(policy=policy.default)


def _full(data: bytes) -> EmailMessage:
    msg = _parsers()[1].parsebytes(data)
    assert isinstance(msg, EmailMessage)  # what policy.default makes
    return msg


@dataclass
class Sender:
    """An address no lead matched: how many of this sync's messages came from or went to it."""

    address: str
    name: str
    messages: int = 0
    last_at: int = 0


@dataclass
class SyncResult:
    """What one sync did: messages read, logged, already logged before, matched and not; leads created;
    the unmatched addresses, most messages first."""

    source: str
    kind: str
    scanned: int = 0
    logged: int = 0
    already_logged: int = 0
    matched: int = 0
    unmatched: int = 0
    created_leads: int = 0
    senders: dict[str, Sender] = field(default_factory=dict)

    @property
    def unmatched_senders(self) -> list[Sender]:
        return sorted(self.senders.values(), key=lambda s: (-s.messages, s.address))

    def add(self, batch: SyncResult) -> None:
        """Add a committed batch's counts and unmatched senders to this sync's."""
        for name in ("scanned", "logged", "already_logged", "matched", "unmatched", "created_leads"):
            setattr(self, name, getattr(self, name) + getattr(batch, name))
        for key, sender in batch.senders.items():
            mine = self.senders.setdefault(key, Sender(sender.address, sender.name))
            mine.messages += sender.messages
            mine.last_at = max(mine.last_at, sender.last_at)


def head_of(data: bytes) -> bytes:
    """Return a message's header block: its bytes up to the first empty line (all of them without one).
    Matching and logging read headers only, and the parser, even told so, splits the body into lines
    too: a message with a big attachment costs what its headers cost."""
    ends = [i + n for i, n in ((data.find(b"\n\n"), 2), (data.find(b"\n\r\n"), 3)) if i >= 0]
    return data[: min(ends)] if ends else data


def message_id_of(msg: Message, data: bytes) -> str:
    """Return the message's Message-ID, or `sha256:<hex>` of its bytes (line ends made alike) without one."""
    try:
        found = str(msg.get("Message-ID", "") or "").strip()
    except (ValueError, IndexError):  # a header the parser cannot read
        found = ""
    if found:
        return found[:998]
    return "sha256:" + hashlib.sha256(data.replace(b"\r\n", b"\n").strip()).hexdigest()


def time_of(msg: Message, fallback: int | None) -> int:
    """Return the message's Date as epoch seconds, else `fallback` (the file's or the server's time), else now."""
    raw = msg.get("Date")
    if raw is not None:
        try:
            moment = parsedate_to_datetime(str(raw))
        except (TypeError, ValueError, IndexError):
            moment = None
        if moment is not None:
            if moment.tzinfo is None:  # RFC 5322 `-0000`: the time is UTC with no zone known
                moment = moment.replace(tzinfo=_dt.UTC)
            return int(moment.timestamp())
    return fallback if fallback is not None else clock.now_ts()


def _stored(text: str | None) -> str | None:
    """Return a message's text as it is logged: a NUL, which no stored text may hold (formats.NUL_REFUSED),
    reads as U+FFFD, as bytes that are not text do. Another party's message cannot be refused: the sync
    would stop at it for good."""
    return text.replace("\0", "\ufffd") if text else text


def _text_body(msg: EmailMessage) -> str | None:
    try:
        part = msg.get_body(preferencelist=("plain",))
        return str(part.get_content()) if part is not None else None
    except (KeyError, LookupError, UnicodeError):
        return None


@dataclass
class _State:
    """The stored state of a source, read once at the start."""

    id: int | None = None
    uidvalidity: int | None = None
    last_uid: int | None = None
    synced: bool = False  # a sync of it has ever finished
    seen: set[str] = field(default_factory=set)  # the keys not to read again
    unmatched: set[str] = field(default_factory=set)  # the keys of messages read that no lead matched


def _load_state(conn: Any, url: str, rescan: bool, retry: bool) -> _State:
    """Return the source's stored state; `retry` leaves the unmatched messages out of `seen` (read again)."""
    row = conn.execute(
        text("SELECT id, uidvalidity, last_uid, last_sync_at FROM mail_source WHERE url = :u"), {"u": url}
    ).first()
    if row is None:
        return _State()
    state = _State(row[0], row[1], row[2], synced=row[3] is not None)
    for (key,) in conn.execute(text("SELECT key FROM mail_seen WHERE source_id = :s"), {"s": row[0]}):
        if key.startswith(UNMATCHED):
            state.unmatched.add(key[len(UNMATCHED) :])
        else:
            state.seen.add(key)
    if rescan:
        state.seen = set()
    elif not retry:
        state.seen |= state.unmatched
    return state


def _source_id(conn: Any, source: Source) -> int:
    found = conn.execute(text("SELECT id FROM mail_source WHERE url = :u"), {"u": source.url}).scalar()
    if found is not None:
        return int(found)
    return int(
        conn.execute(
            text(
                "INSERT INTO mail_source (url, kind, logged_total, last_scanned, last_logged, last_matched,"
                " last_unmatched) VALUES (:u, :k, 0, 0, 0, 0, 0) RETURNING id"
            ),
            {"u": source.url, "k": source.kind},
        ).scalar_one()
    )


@dataclass
class _Options:
    own: frozenset[str]
    keep_body: bool
    create_leads: bool
    first_sync: bool
    unmatched: set[str]  # the keys stored as unmatched (kept up to date as batches are written)
    matcher: match.Matcher | None = None  # the leads' addresses, loaded with the first batch
    matcher_dirty: bool = False  # it holds leads an aborted attempt added: read it again


def sync(
    store: Any,
    spec: str,
    *,
    keep_body: bool = False,
    create_leads: bool = False,
    rescan: bool = False,
    addresses: Iterable[str] | None = None,
) -> SyncResult:
    """Log every message of the mailbox `spec` (a Maildir or mbox path, or an imaps:// URL) not logged yet as
    an activity on the lead it concerns; return what was done. `addresses` are the seller's own (default
    config `[mail] addresses`); `rescan` reads the whole mailbox again (still logging nothing twice);
    `create_leads` adds a lead, in the first stage, for each address no lead matched, reading again the
    messages earlier syncs found no lead for."""
    own = match.own_addresses(mail_settings().addresses if addresses is None else addresses)
    if not own:
        raise PipecliError(
            f'set your own addresses first: [mail] addresses = ["you@example.com"] in {config.path()} '
            "(they tell what you sent from what you received)"
        )
    source = open_source(spec)
    result = SyncResult(source.url, source.kind)
    with store.read() as conn:
        state = _load_state(conn, source.url, rescan, retry=create_leads)
    options = _Options(own, keep_body, create_leads, first_sync=not state.synced, unmatched=state.unmatched)
    stale: list[str] = []  # unmatched IMAP keys of a folder the server has renumbered since
    try:
        if isinstance(source, Imap):
            source.connect()
            same_folder = state.uidvalidity is not None and state.uidvalidity == source.uidvalidity
            source.resume_uid = (state.last_uid or 0) if same_folder and not rescan else 0
            current = f"{source.uidvalidity}:"
            stale = [k for k in state.unmatched if not k.startswith(current)]
            if create_leads and same_folder and not rescan:
                source.retry_uids = sorted(int(k[len(current) :]) for k in state.unmatched if k.startswith(current))
        for batch in source.batches(state.seen):
            done, (matched, unmatched) = store.write(functools.partial(_attempt, source, batch, options))
            options.matcher_dirty = False  # committed: the leads it added are in the database
            result.add(done)
            options.unmatched.difference_update(matched)
            options.unmatched.update(unmatched)
            options.first_sync = False
    except PipecliError as exc:
        _record_error(store, source, str(exc))
        raise
    finally:
        source.close()

    def finish(conn: Connection) -> None:  # run again if PostgreSQL aborts it for a concurrent write
        conn.execute(
            text(
                "UPDATE mail_source SET last_sync_at = :t, last_scanned = :s, last_logged = :l, last_matched = :m, "
                "last_unmatched = :u, last_error = NULL, last_error_at = NULL WHERE id = :i"
            ),
            {
                "t": clock.now_ts(),
                "s": result.scanned,
                "l": result.logged,
                "m": result.matched,
                "u": result.unmatched,
                "i": _source_id(conn, source),
            },
        )
        if stale:
            conn.execute(
                text("DELETE FROM mail_seen WHERE source_id = :s AND key = :k"),
                [{"s": _source_id(conn, source), "k": UNMATCHED + k} for k in stale],
            )

    store.write(finish)
    return result


def _record_error(store: Any, source: Source, message: str) -> None:
    store.write(
        lambda conn: conn.execute(
            text("UPDATE mail_source SET last_error = :e, last_error_at = :t WHERE id = :i"),
            {"e": message, "t": clock.now_ts(), "i": _source_id(conn, source)},
        )
    )


def _attempt(
    source: Source, batch: list[Raw], options: _Options, conn: Connection
) -> tuple[SyncResult, tuple[list[str], set[str]]]:
    """Write one batch (one attempt of its transaction, see `_write_batch`); return its counts and its keys
    that are no longer and newly unmatched, for the caller to add once the transaction committed."""
    if options.matcher is None or options.matcher_dirty:  # an aborted attempt's leads are not in the database
        options.matcher = match.Matcher.load(conn)
    done = SyncResult(source.url, source.kind)
    options.matcher_dirty = True  # until this attempt's leads (if any) are known to be committed
    changed = _write_batch(conn, source, batch, options.matcher, options, done)
    options.matcher_dirty = done.created_leads > 0  # the caller resets it when the transaction commits
    return done, changed


def _write_batch(
    conn: Any, source: Source, batch: list[Raw], matcher: match.Matcher, options: _Options, result: SyncResult
) -> tuple[list[str], set[str]]:
    """Log one batch of messages (in the caller's transaction), move the source's resume point past it, and
    add its counts to `result`; return its keys no longer unmatched and those newly unmatched (see
    `_remember`)."""
    # the lead-writing core, imported at the first batch: a re-sync with nothing new writes no lead
    from pipecli.leads import log_many

    fast = _parsers()[0]
    parsed = []
    unmatched: set[str] = set()  # the keys of this batch's messages that no lead matched
    for raw in batch:
        msg = fast.parsebytes(head_of(raw.data), headersonly=True)
        parsed.append((raw, msg, message_id_of(msg, raw.data), match.facts_of(msg, options.own)))
    if options.first_sync and parsed and not any(f.involves_seller for _, _, _, f in parsed):
        raise PipecliError(
            f"none of the first {len(parsed)} messages of {source.url} is from or to your addresses "
            f"({', '.join(sorted(options.own))}; config [mail] addresses): nothing was logged"
        )
    ids = [mid for _, _, mid, _ in parsed]
    known = {r[0] for r in execute_in(conn, "SELECT message_id FROM activity WHERE message_id IN :ids", ids=ids)}
    per_lead: dict[int, list[dict[str, Any]]] = {}
    # an address's display name from any message of the batch: a reply to "zed@x" carries none, and which of
    # a Maildir's files is read first is the directory's order, not the mail's
    names: dict[str, str] = {}
    for *_, facts in parsed:
        for person in facts.people:
            if person.name.strip():
                names.setdefault(match.normal(person.address), person.name)
    for raw, msg, message_id, facts in parsed:
        result.scanned += 1
        if message_id in known:
            result.already_logged += 1
            continue
        known.add(message_id)
        lead_id = matcher.lead_for(facts.people)
        subject = match.header_text(msg, "Subject") or None
        full = (
            _full(raw.data) if options.keep_body or (lead_id is None and match.FORWARDED.match(subject or "")) else None
        )
        if lead_id is None and full is not None:
            lead_id = matcher.lead_for(match.forwarded_people(full, options.own))
        at = time_of(msg, raw.fallback_at)
        if lead_id is None and options.create_leads and facts.people:
            first = facts.people[0]
            named = match.Person(first.address, names.get(match.normal(first.address), first.name))
            lead_id = _create_lead(conn, named, matcher)
            result.created_leads += lead_id is not None
        if lead_id is None:
            result.unmatched += 1
            if facts.people:  # read again by a later --create-leads (a lead added meanwhile matches then too)
                unmatched.add(raw.key)
                first = facts.people[0]
                key = match.normal(first.address)
                sender = result.senders.setdefault(key, Sender(first.address, names.get(key, first.name)))
                sender.messages += 1
                sender.last_at = max(sender.last_at, at)
            continue
        result.matched += 1
        subject = _stored(subject)
        per_lead.setdefault(lead_id, []).append(
            {
                "kind": facts.kind,
                "note": subject,
                "at": at,
                "message_id": _stored(message_id),
                "direction": facts.direction,
                "subject": subject,
                "body": _stored(_text_body(full)) if options.keep_body and full is not None else None,
            }
        )
    logged = log_many(conn, per_lead) if per_lead else 0
    result.logged += logged
    source_id = _source_id(conn, source)
    changed = _remember(conn, source, source_id, batch, unmatched, options.unmatched)
    params: dict[str, Any] = {"i": source_id, "n": logged}
    sets = "logged_total = logged_total + :n"
    if isinstance(source, Imap):
        sets += ", uidvalidity = :v, last_uid = :u"
        params.update(v=source.uidvalidity, u=source.last_uid)
    conn.execute(text(f"UPDATE mail_source SET {sets} WHERE id = :i"), params)
    return changed


def _remember(
    conn: Any, source: Source, source_id: int, batch: list[Raw], unmatched: set[str], stored: set[str]
) -> tuple[list[str], set[str]]:
    """Store which messages of `batch` were read (Maildir: each file's key, so it is not opened again) and
    which of them no lead matched (`UNMATCHED` + key, Maildir and IMAP), for a later --create-leads; return
    the keys of `stored` (those stored as unmatched) now matched, and the newly unmatched, which the caller
    applies to `stored` once the transaction committed. An mbox, read whole every time, keeps none."""
    if source.kind == "mbox":
        return [], set()
    matched = [raw.key for raw in batch if raw.key in stored and raw.key not in unmatched]
    rows: list[dict[str, Any]] = [{"s": source_id, "k": UNMATCHED + k} for k in matched]
    if source.kind == "maildir":
        rows += [{"s": source_id, "k": k} for k in unmatched]
    if rows:
        conn.execute(text("DELETE FROM mail_seen WHERE source_id = :s AND key = :k"), rows)
    keys = [UNMATCHED + k for k in unmatched]
    if source.kind == "maildir":
        keys += [raw.key for raw in batch if raw.key not in unmatched]
    if keys:
        conn.execute(
            text("INSERT INTO mail_seen (source_id, key) VALUES (:s, :k) ON CONFLICT DO NOTHING"),
            [{"s": source_id, "k": k} for k in keys],
        )
    return matched, unmatched


def _create_lead(conn: Any, person: match.Person, matcher: match.Matcher) -> int | None:
    """Add a lead for an unmatched address, in the first stage; None when the address cannot be a lead's."""
    # the lead-writing core: imported only when a lead is created
    from pipecli.leads import add_lead

    name = (person.name.strip() or person.address.split("@", 1)[0]).replace("\0", "\ufffd")  # as _stored
    try:
        lead_id = add_lead(conn, name, email=person.address, source="mail")
    except PipecliError:
        return None
    matcher.add(lead_id, person.address)
    return lead_id
