"""Who a lead is: the one matcher that says two leads are likely the same person, and the canonical forms
it compares.

Each detail is compared in a canonical form (`store.matchkeys` holds the ones the lead table stores, so
a lookup of a lead's likely duplicates is an index lookup per block, see `blocks`):

- **e-mail**: checked with email-validator (syntax only, no DNS), then lower-cased with any `+tag` dropped
  from the local part: `Anna+crm@Rossi.it` is `anna@rossi.it`.
- **phone**: E.164 through phonenumbers (`+390212345678`), a number without a country code read in the
  region of the `locale` setting (it_IT: Italy); a number it cannot read is compared by its digits.
- **company**: lower case, accents, punctuation and legal suffixes dropped: `Rossi S.r.l.`, `ROSSI SRL`
  and `Rossi` are all `rossi`.
- **person name**: order-insensitive fuzzy similarity (rapidfuzz's token-sort ratio, 0..100), so
  `Rossi Anna` is `Anna Rossi` (100) and `Ana Rossi` is close (94).

Two leads are likely duplicates (`match`) when any of these holds:

1. the same canonical e-mail (one address is one person, also on a shared free-mail domain), unless it is
   a team's mailbox (`info@`, `sales@`... `ROLE_MAILBOXES`);
2. the same phone and names at least `NAME_LOOSE` (70) similar (a shared switchboard alone is not enough);
3. the same company and names at least `NAME_STRICT` (92) similar (namesakes at different companies and
   colleagues at one company are not duplicates).

The thresholds were set on tests/fixtures/duplicate_pairs.csv (tests/test_identity.py reports precision
and recall on it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from pipecli.errors import PipecliError
from pipecli.store.matchkeys import (
    KEY_CACHE,
    MATCH_COLUMNS,
    ROLE_MAILBOXES,
    company_block,
    company_key,
    email_block,
    email_key,
    fold,
    match_columns,
    phone_block,
)

# the canonical forms live with the store, which indexes them; the domain reads them here
__all__ = ["MATCH_COLUMNS", "ROLE_MAILBOXES", "company_key", "email_key", "match_columns"]

NAME_STRICT = 92  # names this similar at one company are one person
NAME_LOOSE = 70  # names this similar sharing one phone are one person


@dataclass(frozen=True)
class Contact:
    """The details of a lead the matcher compares (any may be None)."""

    name: str | None = None
    company: str | None = None
    email: str | None = None
    phone: str | None = None
    id: int | None = None


def check_email(email: str) -> str:
    """Return `email` as email-validator normalises it, or raise PipecliError when it is no address
    (`a@@b.c`, `x@.y`). Only the syntax is checked: no DNS lookup, so it works offline."""
    # email-validator (and the DNS library it brings) only when an address is checked
    from email_validator import EmailNotValidError, validate_email

    try:
        return str(validate_email(email, check_deliverability=False, test_environment=True).normalized)
    except EmailNotValidError:
        raise PipecliError(f"--email: {email!r} is not an email address") from None


def default_region() -> str | None:
    """Return the region a phone number without a country code is read in: the territory of the
    `locale` setting (`it_IT` -> `IT`), else None."""
    from pipecli import config  # the config file is read only when a phone is compared

    name = config.locale()
    if name is None or "_" not in name:
        return None
    return name.partition("_")[2].upper()


def resolved_region(region: str | None = None) -> str:
    """Return `region`, else `default_region()`, with `""` for none: read once by a caller comparing many
    phones, as reading the setting (the config file) costs far more than comparing two numbers."""
    return region if region is not None else (default_region() or "")


def phone_key(phone: str | None, region: str | None = None) -> str | None:
    """Return `phone` in E.164 (`+390212345678`), read in `region` (None: `default_region`; `""`: no region,
    as `resolved_region` says when the setting is unset) when it has no country code; its digits when
    phonenumbers cannot read it; None when it has no digit."""
    if not phone:
        return None
    return _e164(phone, resolved_region(region))


# A pure function of its text and region, so each number is read once per process however many leads
# share it: `duplicates` compares each lead in every block it is in.
@functools.lru_cache(maxsize=KEY_CACHE)
def _e164(phone: str, region: str) -> str | None:
    """Return `phone_key(phone, region)` for a resolved region (`""`: none)."""
    digits = re.sub(r"\D", "", phone)
    if not digits:
        return None
    # phonenumbers (its metadata is large) only when a phone is compared
    import phonenumbers

    text = phone.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        parsed = phonenumbers.parse(text, region or None)
    except phonenumbers.NumberParseException:
        return digits
    if not phonenumbers.is_possible_number(parsed):
        return digits
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def name_similarity(a: str | None, b: str | None) -> float:
    """Return how alike two person names are, 0..100, ignoring word order, case, accents and punctuation."""
    if not a or not b:
        return 0.0
    # rapidfuzz only when names are compared
    from rapidfuzz import fuzz

    return float(fuzz.token_sort_ratio(fold(a), fold(b)))


def match(a: Contact, b: Contact, region: str | None = None) -> str | None:
    """Return why `a` and `b` are likely one person ("same email", "same phone and a similar name",
    "same name and company", "same company and a similar name"), or None when they are not (the rules are in the module docstring).
    Phones without a country code are read in `region` (default: `default_region`)."""
    ea, eb = email_key(a.email), email_key(b.email)
    if ea is not None and ea == eb and ea.partition("@")[0] not in ROLE_MAILBOXES:
        return "same email"
    similarity: float | None = None
    if a.phone and b.phone and region is None:
        region = resolved_region()
    pa, pb = phone_key(a.phone, region), phone_key(b.phone, region)
    if pa is not None and pa == pb:
        similarity = name_similarity(a.name, b.name)
        if similarity >= NAME_LOOSE:
            return "same phone and a similar name"
    ca, cb = company_key(a.company), company_key(b.company)
    if ca is not None and ca == cb:
        similarity = name_similarity(a.name, b.name) if similarity is None else similarity
        if similarity >= NAME_STRICT:
            return "same name and company" if similarity == 100 else "same company and a similar name"
    return None


def blocks(contact: Contact, region: str | None = None) -> Iterator[str]:
    """Yield the keys under which a possible duplicate of `contact` must share at least one: every pair
    `match` accepts shares one, so comparing only within blocks finds every duplicate. They are the forms
    the lead table stores (`store.matchkeys`: `match_email`, `match_phone`, `match_company`).

    A phone's block is its last `PHONE_TAIL` digits (an extension cut off), not its E.164 form: one number
    in any spelling ends in the same subscriber digits, and reading every number with phonenumbers would
    cost most of the time of listing duplicates; `match` reads only the numbers that share a block.
    `region` is kept for callers; the blocks do not depend on it."""
    email = email_block(contact.email)
    if email:
        yield "e:" + email
    phone = phone_block(contact.phone)
    if phone:
        yield "p:" + phone
    company = company_block(contact.company)
    if company:
        yield "c:" + company


# A pure function of its text: computed once per process however many leads bear one name (most do)
@functools.lru_cache(maxsize=KEY_CACHE)
def name_key(name: str | None) -> str | None:
    """Return the form `name_similarity` compares a name in: its folded words sorted (`Rossi Anna` and
    `anna rossi` are `anna rossi`), so two names of one key are as alike as any other name; None for none."""
    if not name:
        return None
    return " ".join(sorted(fold(name).split()))


def strict_distance(a: int, b: int) -> int:
    """Return the most characters two name keys of lengths `a` and `b` may differ by (insertions plus
    deletions, the distance rapidfuzz's ratio is made of: ratio = 100 * (1 - distance / (a + b))) and
    still be `NAME_STRICT` alike: 1 for two names of 13 to 24 characters together, 2 up to 37."""
    return (a + b) * (100 - NAME_STRICT) // 100


def _segments(length: int, parts: int) -> list[tuple[int, int]]:
    """Return (start, length) of the `parts` pieces, as even as can be, that a key of `length` is cut in."""
    short, longer = divmod(length, parts)
    out, start = [], 0
    for i in range(parts):
        size = short + (i >= parts - longer)
        out.append((start, size))
        start += size
    return out


@functools.cache
def _ratio() -> Callable[..., float]:
    """Return rapidfuzz's ratio, imported once (an import statement costs more than a comparison)."""
    # rapidfuzz only when names are compared
    from rapidfuzz import fuzz

    return fuzz.ratio


INDEX_FROM = 64  # names in a company block from which `_CompanyBlock` finds a new name's near names by index


class _CompanyBlock:
    """The earlier leads of one company block, grouped by name key: the first lead of each (the oldest:
    the original a copy is reported against), the name keys alike (`NAME_STRICT`) to each, and the index
    that finds those without comparing a new name with every other.

    The index is a pigeonhole filter (PassJoin's): two keys at most `d` apart (`strict_distance`) differ
    by at most `d` insertions or deletions, so when one is cut in `d + 1` pieces, one piece is untouched
    and is found in the other at most `d` characters from where it was. Each key is indexed by its pieces
    (its length, `d`, which piece, its text) for every `d` a partner of another length may need; a new
    key looks up, for each length a partner may have, the substrings at those places. Every alike pair is
    among the candidates, so none is missed, and only candidates are compared. A block of fewer than
    `INDEX_FROM` names (most companies) compares a new name with each, which costs less than the index."""

    __slots__ = ("alike", "first", "pieces", "tally")  # one per company: most hold a lead or two

    def __init__(self, tally: dict[str, int]) -> None:
        self.first: dict[str, Contact] = {}
        self.alike: dict[str, list[str]] = {}
        self.pieces: dict[tuple[int, int, int, str], list[str]] | None = None  # from `INDEX_FROM` names
        self.tally = tally

    def originals(self, key: str) -> list[Contact]:
        """Return the oldest earlier lead of each name alike to the name key `key` (its own included)."""
        if key not in self.alike:
            self._add_name(key)
        return [self.first[k] for k in self.alike[key] if k in self.first]

    def add(self, contact: Contact, key: str) -> None:
        """Record `contact`, of name key `key` (already seen by `originals`), as an earlier lead."""
        first = self.first.get(key)
        if first is None or (contact.id or 0) < (first.id or 0):
            self.first[key] = contact

    def _candidates(self, key: str) -> Iterable[str]:
        """Return the block's keys that may be `NAME_STRICT` alike to `key` (every one that is)."""
        if self.pieces is None:
            return list(self.alike)
        size = len(key)
        out: set[str] = set()
        for other in range(size - strict_distance(size, 2 * size), size + strict_distance(size, 2 * size) + 1):
            d = strict_distance(size, other)
            if d == 0 or abs(size - other) > d:
                continue  # alike only when equal (the same key), or lengths too far apart
            for i, (start, length) in enumerate(_segments(other, d + 1)):
                for at in range(max(0, start - d), min(size - length, start + d) + 1):
                    out.update(self.pieces.get((other, d, i, key[at : at + length]), ()))
        return out

    def _add_name(self, key: str) -> None:
        """Compare the new name key `key` with the candidates the index finds, then index it."""
        alike = [key]  # a name is as alike to itself as can be (100), its empty form too, as in `name_similarity`
        if self.alike:  # a block's first name has none to compare with (most blocks hold one)
            ratio = _ratio()
            for other in sorted(self._candidates(key)):
                self.tally["names"] += 1
                # the keys' words are sorted already: `name_similarity` of two of their names, at a fraction of the cost
                if ratio(key, other, score_cutoff=NAME_STRICT) >= NAME_STRICT:
                    alike.append(other)
                    self.alike[other].append(key)
        self.alike[key] = alike
        if self.pieces is not None:
            self._index(key)
        elif len(self.alike) >= INDEX_FROM:
            self.pieces = {}
            for known in self.alike:
                self._index(known)

    def _index(self, key: str) -> None:
        """Record `key` under its pieces, for every `d` a partner (at most `d` longer) may need."""
        assert self.pieces is not None
        size, d = len(key), 1
        while d <= strict_distance(size, size + d):
            for i, (start, length) in enumerate(_segments(size, d + 1)):
                self.pieces.setdefault((size, d, i, key[start : start + length]), []).append(key)
            d += 1


def duplicates(
    contacts: Iterable[Contact], region: str | None = None, counts: dict[str, int] | None = None
) -> list[tuple[Contact, Contact, str]]:
    """Return (original, copy, why) for each contact that matches an earlier one (in the given order),
    the original being the first it matches (the lowest id): what `clean`'s duplicate rule reports.
    `counts`, when given, receives the work done: `names` (pairs of names compared inside company
    blocks) and `pairs` (pairs handed to `match`), which grow with the blocks' names, not their leads.

    Contacts are compared only within their blocks (`blocks`). Within an e-mail or phone block every pair
    is compared. A company block can hold thousands of leads (all the leads of one customer), and inside it
    only the company rule can match a pair (the others need a shared e-mail or phone, so their own block),
    so it is never compared pair by pair:

    - leads are grouped by `name_key`: one name's leads are all alike or all not to any other, so each
      pair of names is compared once, however many leads bear them (a lead is reported against the oldest
      lead of the alike names);
    - a new name is compared only with the names an index finds within `strict_distance` of it (see
      `_CompanyBlock`): a filter that lets every alike pair through, so nothing `match` accepts is lost
      (the labelled pairs, tests/fixtures/duplicate_pairs.csv, are all still found, as
      tests/test_identity.py checks, and so is everything comparing every pair finds).

    The cost then grows with the leads and the few near names each name has, not with the square of
    a block's leads. What stays quadratic is a block of one e-mail or one phone shared by many leads
    (a switchboard): those are few, and the phone rule's looser threshold (`NAME_LOOSE`) leaves no
    filter as tight."""
    region = resolved_region(region)
    tally = counts if counts is not None else {}
    tally.setdefault("names", 0)
    tally.setdefault("pairs", 0)
    seen: dict[str, list[Contact]] = {}
    companies: dict[str, _CompanyBlock] = {}
    out = []
    for contact in contacts:
        email, phone = email_block(contact.email), phone_block(contact.phone)
        keys = [k for k in ("e:" + email if email else None, "p:" + phone if phone else None) if k]
        found: tuple[Contact, str] | None = None
        for key in keys:
            for earlier in seen.get(key, ()):
                tally["pairs"] += 1
                why = match(earlier, contact, region)
                if why is not None and (found is None or (earlier.id or 0) < (found[0].id or 0)):
                    found = (earlier, why)
        company, name = company_block(contact.company), name_key(contact.name)
        block = None
        if company is not None and name is not None:
            block = companies.get(company) or companies.setdefault(company, _CompanyBlock(tally))
        if block is not None and name is not None:
            for original in block.originals(name):
                if found is None or (original.id or 0) < (found[0].id or 0):
                    tally["pairs"] += 1
                    why = match(original, contact, region)
                    if why is not None:  # always: the company rule holds (the why may be an earlier rule)
                        found = (original, why)
        if found is not None:
            out.append((found[0], contact, found[1]))
        for key in keys:
            seen.setdefault(key, []).append(contact)
        if block is not None and name is not None:
            block.add(contact, name)
    return out


CANDIDATE_LIMIT = 20_000  # leads the lookup hands the matcher at most for one new lead (a very common company)


def candidates_sql(contact: Contact) -> tuple[str, dict[str, Any]] | None:
    """Return the query (SQL, parameters) of the stored leads sharing a block with `contact` (id, name,
    company, email, phone; oldest first), or None when it has no block."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    for column, block in match_columns(contact.email, contact.phone, contact.company).items():
        if block is not None:
            conditions.append(f"l.{column} = :{column}")
            params[column] = block
    if not conditions:
        return None
    where = " OR ".join(conditions)
    sql = f"SELECT l.id, l.name, l.company, l.email, l.phone FROM lead l WHERE {where} ORDER BY l.id LIMIT {CANDIDATE_LIMIT}"
    return sql, params


def likely_duplicates(conn: Any, contact: Contact, exclude: int | None = None) -> list[dict[str, Any]]:
    """Return the stored leads (id, name, company, why) that `match` finds likely to be `contact`, oldest
    first: what `add-lead` warns about and `--unique` refuses.

    The leads sharing one of its blocks are found through the indexed `match_*` columns (an index lookup
    per block, however many leads are stored), and the matcher decides among those."""
    query = candidates_sql(contact)
    if query is None:
        return []
    region = resolved_region() if contact.phone else None
    out = []
    for r in conn.execute(text(query[0]), query[1]):
        if r.id == exclude:
            continue
        why = match(contact, Contact(r.name, r.company, r.email, r.phone, r.id), region)
        if why is not None:
            out.append({"id": r.id, "name": r.name, "company": r.company, "why": why})
    return out


def refresh_blocks(conn: Any, lead_id: int) -> None:
    """Compute lead `lead_id`'s stored blocks (`MATCH_COLUMNS`) again from its details: for a write that
    sets a detail without `leads.set_fields` (`undo` setting a field back, a row put back as recorded
    before schema 12)."""
    row = conn.execute(text("SELECT email, phone, company FROM lead WHERE id = :i"), {"i": lead_id}).first()
    if row is not None:
        sets = ", ".join(f"{c} = :{c}" for c in MATCH_COLUMNS)
        conn.execute(text(f"UPDATE lead SET {sets} WHERE id = :id"), {"id": lead_id, **match_columns(*row)})
