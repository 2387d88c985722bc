"""The canonical forms of a lead's details that the duplicate matcher (`identity`) blocks on, and that the
lead table stores in indexed columns (`match_email`, `match_phone`, `match_company`, since schema 12).

They are pure functions of the text, with no setting read (a phone's block is the tail of its digits, not
its E.164 form, which depends on the `locale` setting), so a stored form never goes stale: it changes only
when the detail it is computed from changes, and every write of that detail writes it too (`leads.add_lead`,
`leads.set_fields`, the import's bulk writer, `undo`). A change to these functions is a migration that
computes them again (`migrations.m012_match_keys` shows how).

Here, not in `identity`, because the store's migration fills the columns and the store imports nothing of
the domain; `identity` re-exports them with the matcher that reads them.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import Any

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
PHONE_TAIL = 6  # the fewest national digits of a number (Italy's shortest); a phone's block
_EXTENSION = re.compile(r"(?i)\s*(?:ext\.?|extension|x|#|;\s*ext=|int\.?|interno)\s*\d+\s*$")
_NON_DIGIT = re.compile(r"\D")
_PUNCT = re.compile(r"[^\w\s]+")
_SPACE = re.compile(r"\s+")
# The forms are computed once per process however many leads share one (an import of a file of few companies)
KEY_CACHE = 1 << 17


def fold(value: str) -> str:
    """Return `value` lower-cased, without accents, punctuation as spaces, spaces collapsed."""
    if value.isascii():  # most names: no accent to take off (the character loop is most of the cost)
        plain = value.lower()
    else:
        plain = unicodedata.normalize("NFKD", value)
        plain = "".join(c for c in plain if not unicodedata.combining(c)).lower()
    return _SPACE.sub(" ", _PUNCT.sub(" ", plain)).strip()


def email_key(email: str | None) -> str | None:
    """Return the form two addresses are compared in: lower case, without a `+tag`; None when empty."""
    if not email or "@" not in email:
        return None
    local, _, domain = email.strip().lower().rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}"


def address_key(email: str | None) -> str | None:
    """Return the form an import's `--key email` compares addresses in: trimmed and lower-cased, the
    `+tag` and dots kept (`Ana+crm@x.it` and `ana@x.it` are two records of the CRM a file comes from,
    which `pipecli duplicates` may then call one person); None when empty. The lead table's
    `ix_lead_email` index holds `lower(email)` (addresses are stored trimmed)."""
    if not email:
        return None
    return email.strip().lower() or None


@functools.lru_cache(maxsize=KEY_CACHE)
def company_key(company: str | None) -> str | None:
    """Return the form two company names are compared in: folded, legal suffixes dropped; None when empty.

    Runs of single letters are joined first, so `S.r.l.` and `S. p. A.` are read as `srl` and `spa`."""
    if not company:
        return None
    tokens = fold(company).split()
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


def email_block(email: str | None) -> str | None:
    """Return the address's block (`email_key`), or None when it has none or is a team's mailbox."""
    key = email_key(email)
    return key if key is not None and key.partition("@")[0] not in ROLE_MAILBOXES else None


# ASCII bytes that are not digits, and those a number spelled without an extension is made of
_NOT_DIGIT_BYTES = bytes(b for b in range(128) if not chr(b).isdigit())
_PLAIN_PHONE_BYTES = b"0123456789 +-./()\t"


def phone_block(phone: str | None) -> str | None:
    """Return the phone's block: the last `PHONE_TAIL` digits once an extension is cut off (one number in
    any spelling ends in the same subscriber digits); None when it has no digit."""
    if not phone:
        return None
    if phone.isascii():
        # most numbers: only digits and separators, so no extension (each is spelled with a letter, `#` or
        # `;`), and the digits are what deleting the rest of the bytes leaves (a tenth of the regexes' cost)
        raw = phone.encode("ascii")
        if not raw.translate(None, _PLAIN_PHONE_BYTES):
            return raw.translate(None, _NOT_DIGIT_BYTES)[-PHONE_TAIL:].decode("ascii") or None
    digits = _NON_DIGIT.sub("", _EXTENSION.sub("", phone))
    return digits[-PHONE_TAIL:] or None


def company_block(company: str | None) -> str | None:
    """Return the company's block (`company_key`)."""
    return company_key(company)


MATCH_COLUMNS = ("match_email", "match_phone", "match_company")


def blocks_of(emails: list[Any], phones: list[Any], companies: list[Any]) -> list[list[str]]:
    """Return the columns `MATCH_COLUMNS` of leads with these details, as lists ("" for none): what
    `match_columns` gives each lead, for a batch of an import (computed in its helper process)."""
    return [
        [email_block(e) or "" for e in emails],
        [phone_block(p) or "" for p in phones],
        [company_key(c) or "" for c in companies],
    ]


def match_columns(email: str | None, phone: str | None, company: str | None) -> dict[str, str | None]:
    """Return the lead columns `MATCH_COLUMNS` for these details."""
    return {
        "match_email": email_block(email),
        "match_phone": phone_block(phone),
        "match_company": company_block(company),
    }
