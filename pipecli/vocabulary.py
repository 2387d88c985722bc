"""The fixed sets of words a user types, each defined once: activity kinds, the sort orders of `list`, lead
statuses, the forecast's probability modes.

A leaf of the base layer (it imports nothing): the core modules that give these words their meaning
import them from here, and the command line builds its choices (and TAB completion) from them without
loading the core, SQLAlchemy or pendulum.
"""

from __future__ import annotations

# kind -> what it means; `pipecli log --help`, its TAB completion and the README list these.
KINDS = {
    "call": "a phone call",
    "email": "an email sent to the lead",
    "email_opened": "the lead opened an email",
    "reply": "the lead replied",
    "auto_reply": "an automatic answer (out of office, RFC 3834): no sign of life",
    "meeting": "a meeting held",
    "demo_request": "the lead asked for a demo",
    "demo": "a demo given",
    "quote_request": "the lead asked for a quote",
    "quote": "a quote or proposal sent",
    "trial_start": "a trial started",
    "trial_end": "a trial finished",
    "visit": "a website or store visit",
    "webinar": "the lead attended a webinar",
    "social": "a social-media touch (LinkedIn message, comment)",
    "sms": "a text or chat message",
    "contract_sent": "a contract sent for signature",
    "note": "a note for the record",
}


def kind_key(word: str) -> str:
    """Return the activity kind `word` names as typed in any case, with - or a space for _ (`Demo-Request`)."""
    return word.strip().lower().replace("-", "_").replace(" ", "_")


# the sort orders of `pipecli list` -> what each puts first (`listing.ORDER_BY` holds their SQL)
SORTS = {
    "value": "largest first",
    "age": "oldest first",
    "expected-close": "soonest expected close first",
    "last-activity": "longest silent first",
    "created": "newest first",
    "name": "by name",
    "score": "highest score now (engagement decayed) first",
    "id": "by id",
}

STATUSES = ("open", "won", "lost")

# `import --from`: plain CSV, or the export of one of these CRMs (`transfer.profiles` holds each one's columns)
IMPORT_PROFILES = ("csv", "pipedrive", "hubspot", "salesforce", "zoho", "odoo")

# the forecast's win probabilities (`forecast --probabilities`)
PROBABILITY_MODES = ("auto", "stage", "history", "learned")

# `clean --rules`: the rules of `clean` by group (`reports.clean` judges them), reported in this order
CLEAN_GROUPS = {"stale": ("silent", "stuck", "overdue"), "hygiene": ("incomplete", "no-next-step", "duplicate")}
CLEAN_RULES = tuple(rule for rules in CLEAN_GROUPS.values() for rule in rules)
