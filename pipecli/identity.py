"""Who a lead is: the one matcher that says two leads are likely the same person, and the canonical forms
it compares.

Each detail is compared in a canonical form computed on the fly (nothing extra is stored):

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
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text

from pipecli.errors import PipecliError

NAME_STRICT = 92  # names this similar at one company are one person
NAME_LOOSE = 70  # names this similar sharing one phone are one person

# Legal forms, as the tokens they leave once punctuation is gone (`S.r.l.` -> `s r l` -> joined `srl`).
LEGAL_SUFFIXES = frozenset(
    "srl srls spa sas snc sapa sa ag gmbh mbh kg ohg ug ev bv nv ltd limited llc llp lp inc incorporated corp "
    "corporation co company plc pty sarl sasu eurl sl slu oy ab as aps kk sp zoo".split()
)
# Addresses a team shares: the same one on two leads does not make them one person.
ROLE_MAILBOXES = frozenset(
    "info office sales admin contact contacts hello support team mail amministrazione commerciale ufficio "
    "vendite ventes vertrieb kontakt bureau accounts billing marketing".split()
)
_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")


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


def email_key(email: str | None) -> str | None:
    """Return the form two addresses are compared in: lower case, without a `+tag`; None when empty."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


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


# Both canonical forms are pure functions of their text (the region is an argument), so each is computed
# once per process however many leads share it: `duplicates` compares each lead in every block it is in.
KEY_CACHE = 1 << 17


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


def _fold(value: str) -> str:
    """Return `value` lower-cased, without accents, punctuation as spaces, spaces collapsed."""
    if value.isascii():  # most names: no accent to take off (the character loop is most of the cost)
        plain = value.lower()
    else:
        plain = unicodedata.normalize("NFKD", value)
        plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return _SPACE.sub(" ", _PUNCT.sub(" ", plain)).strip()


@functools.lru_cache(maxsize=KEY_CACHE)
def company_key(company: str | None) -> str | None:
    """Return the form two company names are compared in: folded, legal suffixes dropped; None when empty.

    Runs of single letters are joined first, so `S.r.l.` and `S. p. A.` are read as `srl` and `spa`."""
    if not company:
        return None
    tokens = _fold(company).split()
    joined: list[str] = []
    run = ""
    for token in [*tokens, ""]:
        if len(token) == 1:
            run += token
            continue
        if run:
            # `& C. S.n.c.` leaves the run `csnc`: split a legal form off its end
            cut = next((k for k in range(len(run)) if run[k:] in LEGAL_SUFFIXES), len(run))
            joined += [part for part in (run[:cut], run[cut:]) if part]
            run = ""
        if token:
            joined.append(token)
    kept = [t for i, t in enumerate(joined) if i == 0 or t not in LEGAL_SUFFIXES]
    return " ".join(kept) or None


def company_token(company: str | None) -> str | None:
    """Return the first word of the company's key: what a SQL prefilter may look for (`rossi`)."""
    key = company_key(company)
    return key.split()[0] if key else None


def name_similarity(a: str | None, b: str | None) -> float:
    """Return how alike two person names are, 0..100, ignoring word order, case, accents and punctuation."""
    if not a or not b:
        return 0.0
    # rapidfuzz only when names are compared
    from rapidfuzz import fuzz

    return float(fuzz.token_sort_ratio(_fold(a), _fold(b)))


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


PHONE_TAIL = 6  # the fewest national digits of a number (Italy's shortest); a phone's block (`blocks`)
_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|extension|x|#|;\s*ext=|int\.?|interno)\s*\d+\s*$")


def blocks(contact: Contact, region: str | None = None) -> Iterator[str]:
    """Yield the keys under which a possible duplicate of `contact` must share at least one: every pair
    `match` accepts shares one, so comparing only within blocks finds every duplicate.

    A phone's block is its last `PHONE_TAIL` digits (an extension cut off), not its E.164 form: one number
    in any spelling ends in the same subscriber digits, and reading every number with phonenumbers would
    cost most of the time of listing duplicates; `match` reads only the numbers that share a block.
    `region` is kept for callers; the blocks no longer depend on it."""
    email = email_key(contact.email)
    if email and email.partition("@")[0] not in ROLE_MAILBOXES:
        yield "e:" + email
    if contact.phone:
        digits = re.sub(r"\D", "", _EXTENSION.sub("", contact.phone))
        if digits:
            yield "p:" + digits[-PHONE_TAIL:]
    company = company_key(contact.company)
    if company:
        yield "c:" + company


def duplicates(contacts: Iterable[Contact], region: str | None = None) -> list[tuple[Contact, Contact, str]]:
    """Return (original, copy, why) for each contact that matches an earlier one (in the given order),
    the original being the first it matches: what `clean`'s duplicate rule reports.

    Contacts are compared only within their blocks, so the cost grows with the size of the blocks,
    not with the square of the count."""
    region = resolved_region(region)
    seen: dict[str, list[Contact]] = {}
    out = []
    for contact in contacts:
        keys = list(blocks(contact, region))
        found: tuple[Contact, str] | None = None
        for key in keys:
            for earlier in seen.get(key, ()):
                why = match(earlier, contact, region)
                if why is not None and (found is None or (earlier.id or 0) < (found[0].id or 0)):
                    found = (earlier, why)
        if found is not None:
            out.append((found[0], contact, found[1]))
        for key in keys:
            seen.setdefault(key, []).append(contact)
    return out


def _like(value: str) -> str:
    """Return `value` with LIKE's wildcards escaped (with `\\`)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# A phone's digits in SQL, its usual separators removed (what the prefilter compares a number's tail with).
_PHONE_DIGITS = "replace(replace(replace(replace(replace(replace(l.phone, ' ', ''), '-', ''), '.', ''), '(', ''), ')', ''), '/', '')"
CANDIDATE_LIMIT = 20_000  # leads the prefilter hands over at most for one new lead (a very common first word)


def likely_duplicates(conn: Any, contact: Contact, exclude: int | None = None) -> list[dict[str, Any]]:
    """Return the stored leads (id, name, company, why) that `match` finds likely to be `contact`, oldest
    first: what `add-lead` warns about and `--unique` refuses.

    No normalised form is stored, so SQL first narrows the leads to those that could match (the same
    address or one with a `+tag`, a phone ending in the same seven digits, a company starting with the same
    word), and the matcher decides among those."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    email = email_key(contact.email)
    if email and email.partition("@")[0] not in ROLE_MAILBOXES:
        local, _, domain = email.partition("@")
        conditions.append("lower(trim(l.email)) = :email OR lower(trim(l.email)) LIKE :tagged ESCAPE '\\'")
        params.update(email=email, tagged=f"{_like(local)}+%@{_like(domain)}")
    region = resolved_region() if contact.phone else None
    phone = phone_key(contact.phone, region)
    if phone and len(phone.lstrip("+")) >= 7:
        conditions.append(f"{_PHONE_DIGITS} LIKE :phone_tail")
        params["phone_tail"] = "%" + phone[-7:]
    if contact.company:
        words = {w for w in (company_token(contact.company), contact.company.strip().lower().split()[0]) if w}
        for i, word in enumerate(sorted(words)):
            conditions.append(f"lower(l.company) LIKE :company{i} ESCAPE '\\'")
            params[f"company{i}"] = _like(word) + "%"
    if not conditions:
        return []
    where = " OR ".join(f"({c})" for c in conditions)
    sql = f"SELECT l.id, l.name, l.company, l.email, l.phone FROM lead l WHERE ({where}) ORDER BY l.id LIMIT {CANDIDATE_LIMIT}"
    company = company_key(contact.company)
    tail = phone[-7:] if phone else None
    out = []
    for r in conn.execute(text(sql), params):
        if r.id == exclude:
            continue
        # Most candidates share only the first word of the company: rule them out before the matcher
        # parses their phone (the costly part). A phone whose digits end otherwise cannot be the same
        # number, as the phone prefilter above already assumes.
        same_tail = tail is not None and re.sub(r"\D", "", r.phone or "").endswith(tail.lstrip("+"))
        if not (
            same_tail or (email and email_key(r.email) == email) or (company and company_key(r.company) == company)
        ):
            continue
        why = match(contact, Contact(r.name, r.company, r.email, r.phone if same_tail else None, r.id), region)
        if why is not None:
            out.append({"id": r.id, "name": r.name, "company": r.company, "why": why})
    return out
