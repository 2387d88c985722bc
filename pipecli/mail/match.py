"""Which lead a message concerns, and what kind of touch it is.

A message's people are the addresses in its From, To and Cc, less the seller's own (config `[mail]
addresses`). It concerns a lead:

1. by address: the first of its people (for a received message the sender first, for a sent one the
   recipients) whose address equals a lead's e-mail, case-insensitively and without `+tag`
   (`Ann+crm@Acme.com` is `ann@acme.com`); an open lead before a closed one, then the newest;
2. else by company domain: the first of its people whose domain is the e-mail domain of exactly one open
   lead, unless it is a free-mail domain (FREE_MAIL), which says nothing about a company;
3. else, for a forwarded message (subject `Fwd:`, `Fw:`, `I:`, `WG:`, `TR:`), the same two rules over the
   addresses in the forwarded part's `From:` lines.

Direction: sent (`out`) when From is one of the seller's addresses, else received (`in`). A received
message is an `auto_reply` (no sign of life: `activities.NOT_ENGAGEMENT`) when it says so (RFC 3834
`Auto-Submitted` other than `no`, `X-Autoreply`, `X-Autorespond`, `Precedence: auto_reply`) or its subject
is an out-of-office one (AUTO_SUBJECT); otherwise a `reply`. A sent one is an `email`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.utils import getaddresses
from typing import Any

from sqlalchemy import text

# Free-mail and consumer ISP domains: anyone can have an address there, so a shared domain says nothing
# about sharing a company; such addresses match by the whole address only.
FREE_MAIL = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.it", "yahoo.fr", "yahoo.de", "yahoo.co.uk", "ymail.com",
        "outlook.com", "outlook.it", "hotmail.com", "hotmail.it", "hotmail.fr", "hotmail.co.uk", "live.com",
        "live.it", "msn.com", "icloud.com", "me.com", "mac.com", "aol.com", "libero.it", "virgilio.it", "tiscali.it",
        "alice.it", "tin.it", "gmx.com", "gmx.de", "gmx.net", "gmx.at", "web.de", "t-online.de", "mail.com",
        "protonmail.com", "proton.me", "pm.me", "zoho.com", "yandex.com", "yandex.ru", "mail.ru", "fastmail.com",
        "tutanota.com", "orange.fr", "free.fr", "laposte.net", "wanadoo.fr", "qq.com", "163.com",
    }
)  # fmt: skip

# Out-of-office subjects, in the languages a European seller meets most.
AUTO_SUBJECT = re.compile(
    r"^\s*(?:automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|out of (?:the )?office|"
    r"abwesenheit|risposta automatica|fuori ufficio|r[ée]ponse automatique|absence|absent|"
    r"respuesta autom[aá]tica|fuera de la oficina|away from (?:the )?office|on vacation|vacation reply)",
    re.IGNORECASE,
)
FORWARDED = re.compile(r"^\s*(?:fwd?|fw|i|wg|tr|rv)\s*:", re.IGNORECASE)
FORWARDED_FROM = re.compile(r"^\s*>?\s*(?:from|von|da|de)\s*:\s*(.+)$", re.IGNORECASE | re.MULTILINE)


def normal(address: str) -> str:
    """Return an address as matching compares it: lower case, without a `+tag` in the local part."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"


def domain_of(address: str) -> str:
    """Return the domain of an address (lower case; "" without one)."""
    return address.rpartition("@")[2].strip().lower()


def own_addresses(configured: Iterable[str]) -> frozenset[str]:
    """Return the seller's addresses, normalised."""
    return frozenset(normal(a) for a in configured if a.strip())


@dataclass
class Person:
    address: str
    name: str


@dataclass
class Facts:
    """What matching and logging read from one message's headers."""

    direction: str  # out | in
    kind: str  # email | reply | auto_reply
    people: list[Person]  # From/To/Cc less the seller's, in matching order
    involves_seller: bool


def header_text(msg: Message, name: str) -> str:
    """Return a header as text, RFC 2047 encoded words decoded ("" when absent or unreadable).

    Messages are parsed with the fast `compat32` policy, whose headers are raw strings: only the few
    headers shown to people are decoded, here."""
    raw = msg.get(name)
    if raw is None:
        return ""
    try:
        return str(make_header(decode_header(str(raw)))).strip()
    except (LookupError, UnicodeError, ValueError, TypeError):  # an unknown charset or a broken encoded word
        return str(raw).strip()


def people_of(msg: Message, own: frozenset[str]) -> tuple[list[Person], bool, bool]:
    """Return (the message's people less the seller's in matching order, sent by the seller, involves the seller)."""

    def parse(*names: str) -> list[Person]:
        values = [str(v) for n in names for v in (msg.get_all(n) or [])]
        return [Person(a, _decoded(nm)) for nm, a in getaddresses(values) if "@" in a]

    senders, recipients = parse("From"), parse("To", "Cc")
    sent = any(normal(p.address) in own for p in senders)
    ordered = recipients + senders if sent else senders + recipients
    involves = sent or any(normal(p.address) in own for p in recipients)
    seen: set[str] = set()
    people = []
    for person in ordered:
        key = normal(person.address)
        if key in own or key in seen:
            continue
        seen.add(key)
        people.append(person)
    return people, sent, involves


def _decoded(name: str) -> str:
    if "=?" not in name:
        return name
    try:
        return str(make_header(decode_header(name)))
    except (LookupError, UnicodeError, ValueError, TypeError):
        return name


def is_auto_reply(msg: Message) -> bool:
    """Return whether a received message is an automatic answer (RFC 3834 and the common non-standard marks)."""
    auto = str(msg.get("Auto-Submitted", "") or "").strip().lower()
    if auto and auto != "no":
        return True
    if msg.get("X-Autoreply") is not None or msg.get("X-Autorespond") is not None:
        return True
    if str(msg.get("Precedence", "") or "").strip().lower() == "auto_reply":
        return True
    return bool(AUTO_SUBJECT.match(header_text(msg, "Subject")))


def facts_of(msg: Message, own: frozenset[str]) -> Facts:
    """Return a message's direction, kind and people."""
    people, sent, involves = people_of(msg, own)
    kind = "email" if sent else ("auto_reply" if is_auto_reply(msg) else "reply")
    return Facts("out" if sent else "in", kind, people, involves)


def forwarded_people(msg: EmailMessage, own: frozenset[str]) -> list[Person]:
    """Return the senders named in a forwarded message's quoted `From:` lines (none unless it is a forward);
    `msg` is parsed with `policy.default`, which finds the text part."""
    if not FORWARDED.match(header_text(msg, "Subject")):
        return []
    try:
        part = msg.get_body(preferencelist=("plain",))
        body = part.get_content() if part is not None else ""
    except (KeyError, LookupError, UnicodeError):
        return []
    found = []
    for line in FORWARDED_FROM.findall(str(body)):
        for name, address in getaddresses([line]):
            if "@" in address and normal(address) not in own:
                found.append(Person(address, name))
    return found


@dataclass
class Matcher:
    """The leads' addresses and domains, loaded once per sync; leads created meanwhile are added."""

    by_address: dict[str, int] = field(default_factory=dict)
    by_domain: dict[str, set[int]] = field(default_factory=dict)

    @classmethod
    def load(cls, conn: Any) -> Matcher:
        """Return a matcher over the leads with an e-mail address (open leads win, then the newest)."""
        matcher = cls()
        rows = conn.execute(
            text(
                "SELECT id, email, status FROM lead WHERE email IS NOT NULL "
                "ORDER BY CASE WHEN status = 'open' THEN 1 ELSE 0 END, id"
            )
        )
        for lead_id, email, status in rows:
            matcher.add(lead_id, email, status == "open")
        return matcher

    def add(self, lead_id: int, email: str, is_open: bool = True) -> None:
        """Make lead `lead_id` (with address `email`) matchable (a later add of the same address wins)."""
        self.by_address[normal(email)] = lead_id
        domain = domain_of(email)
        if is_open and domain and domain not in FREE_MAIL:
            self.by_domain.setdefault(domain, set()).add(lead_id)

    def lead_for(self, people: Sequence[Person]) -> int | None:
        """Return the lead the people point at (by address first, then by domain), or None."""
        for person in people:
            found = self.by_address.get(normal(person.address))
            if found is not None:
                return found
        for person in people:
            leads = self.by_domain.get(domain_of(person.address))
            if leads is not None and len(leads) == 1:
                return next(iter(leads))
        return None
