"""Follow-up e-mails from templates: rendering one for a lead, and `mail send` (send, then log it).

A template is a file `templates/NAME.txt` in the config folder (next to config.toml), in
`string.Template` syntax: a first line `Subject: ...`, a blank line, then the body; `$name` or `${name}`
for a field, `$$` for a dollar sign. The fields are the lead's columns (`name`, `company`, `email`,
`stage`, `owner`, `value`, `next_step`, `next_step_due`, `expected_close`...), its extra fields, `seller`
(the seller's name) and the last activity (`last_activity`, `last_activity_kind`, `last_activity_date`).
A field the template names that is none of these is refused with one line before anything is sent.

Threading: an e-mail sent here is logged as an `email` activity whose note ends `Message-ID: <...>`;
the next one to the same lead is a reply to the latest such id (In-Reply-To and References).
"""

from __future__ import annotations

import dataclasses
import re
import string
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from sqlalchemy import text

from pipecli import clock, config, leads, money
from pipecli.errors import PipecliError
from pipecli.mail import smtp
from pipecli.mail.settings import MailSettings, settings
from pipecli.store.db import Store

MESSAGE_ID = re.compile(r"Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE)
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclasses.dataclass(frozen=True)
class Sent:
    """What `mail send` did: the message (sent, or only shown with --dry-run) and the activity logged."""

    message: EmailMessage
    lead_id: int
    activity_id: int | None  # None on a dry run
    threaded: bool
    sent_today: int  # e-mails logged today, this one included when sent
    cap: int


def template_dir() -> Path:
    """Return the folder templates are read from: `templates/` beside the config file."""
    return config.path().parent / "templates"


def read_template(name: str) -> tuple[str, string.Template]:
    """Return a template's subject and body; raise one line when the name is bad or the file is missing."""
    if not TEMPLATE_NAME.match(name):
        raise PipecliError(f"template name {name!r} must be letters, digits, '-', '_' or '.'")
    file = template_dir() / f"{name}.txt"
    try:
        content = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PipecliError(f"no template {name!r}: create {file}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PipecliError(f"template {file} cannot be read: {exc}") from None
    head, _, body = content.partition("\n")
    if not head.lower().startswith("subject:"):
        raise PipecliError(f"template {file} must begin with a line 'Subject: ...'")
    return head[len("subject:") :].strip(), string.Template(body.lstrip("\n"))


def fields_of(conn: Any, lead_id: int, seller: str) -> dict[str, str]:
    """Return the values a template may use for a lead, as text (an empty string when not set)."""
    info = leads.show_lead(conn, lead_id)
    lead = info["lead"]
    values: dict[str, str] = {k: str(v) for k, v in info["extra"].items() if v is not None}
    for key, value in lead.items():
        values[key] = "" if value is None else str(value)
    values["value"] = "" if lead.get("value_minor") is None else money.fmt(lead["value_minor"], config.currency())
    values["seller"] = seller
    last = info["activities"][-1] if info["activities"] else None
    values["last_activity_kind"] = last["kind"] if last else ""
    values["last_activity"] = strip_message_id(last["note"] or last["kind"]) if last else ""
    values["last_activity_date"] = clock.from_ts(last["at"]).date().isoformat() if last else ""
    return values


def render(template: string.Template, values: dict[str, str], what: str) -> str:
    """Return `template` filled from `values`; raise one line naming the first unknown or malformed field."""
    if not template.is_valid():
        raise PipecliError(f"{what}: a '$' that starts no field (write $$ for a dollar sign)")
    unknown = [f for f in template.get_identifiers() if f not in values]
    if unknown:
        raise PipecliError(f"{what}: unknown field ${unknown[0]} (known: {', '.join(sorted(values))})")
    return template.substitute(values)


def strip_message_id(note: str) -> str:
    """Return an activity note without its `Message-ID: <...>` part."""
    return MESSAGE_ID.sub("", note).rstrip(" ·")


def last_message_id(conn: Any, lead_id: int) -> str | None:
    """Return the Message-ID of a lead's latest e-mail (sent, or received and logged by `mail sync`), or None:
    what a new message is threaded to. Activities logged by hand may carry one in their note."""
    rows = conn.execute(
        text(
            "SELECT message_id, note FROM activity WHERE lead_id = :l AND kind IN ('email', 'reply') "
            "AND (message_id LIKE '<%' OR note IS NOT NULL) ORDER BY at DESC, id DESC"
        ),
        {"l": lead_id},
    )
    for message_id, note in rows:
        if message_id and message_id.startswith("<"):
            return str(message_id)
        found = MESSAGE_ID.search(note or "")
        if found:
            return found.group(1)
    return None


def sent_today(conn: Any) -> int:
    """Return how many `email` activities were logged today: what the daily cap counts."""
    start = clock.day_start_ts(clock.today())
    count = conn.execute(text("SELECT COUNT(*) FROM activity WHERE kind = 'email' AND at >= :s"), {"s": start})
    return int(count.scalar_one())


def compose(conn: Any, lead_id: int, template_name: str, mail: MailSettings) -> tuple[EmailMessage, bool]:
    """Return the e-mail `template_name` makes for a lead, and whether it is threaded as a reply."""
    subject_template, body_template = read_template(template_name)
    from_ = smtp.sender(mail)
    values = fields_of(conn, lead_id, smtp.seller_name(mail))
    if not values.get("email"):
        raise PipecliError(f"lead {lead_id} has no e-mail address (pipecli edit {lead_id} --email ...)")
    what = f"template {template_name!r}"
    message = EmailMessage()
    message["From"] = from_
    message["To"] = parseaddr(values["email"])[1]
    message["Subject"] = " ".join(render(string.Template(subject_template), values, what).split())
    message["Date"] = formatdate(clock.now_ts(), localtime=False)
    domain = parseaddr(from_)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    parent = last_message_id(conn, lead_id)
    if parent:
        message["In-Reply-To"] = parent
        message["References"] = parent
    message.set_content(render(body_template, values, what))
    return message, parent is not None


def send_from_template(store: Store, lead_id: int, template_name: str, dry_run: bool = False) -> Sent:
    """Render the template for a lead and, unless `dry_run`, send it and log it as an `email` activity.

    Refused with one line beyond `mail.daily_cap` e-mails today. Nothing is logged when sending fails;
    the activity is written in one transaction once the server has accepted the message."""
    mail = settings()
    with store.read() as conn:
        message, threaded = compose(conn, lead_id, template_name, mail)
        count = sent_today(conn)
    if dry_run:
        return Sent(message, lead_id, None, threaded, count, mail.daily_cap)
    if count >= mail.daily_cap:
        raise PipecliError(f"the daily cap of {mail.daily_cap} e-mails is reached (mail.daily_cap); nothing sent")
    smtp.send(message, mail.smtp)
    # logged as `mail sync` logs a sent message, so syncing the Sent folder later does not log it again
    item = {
        "kind": "email",
        "note": f"{message['Subject']} · Message-ID: {message['Message-ID']}",
        "message_id": str(message["Message-ID"]),
        "direction": "out",
        "subject": str(message["Subject"]),
    }
    # the message is sent: its logging is run again if PostgreSQL aborts it for a concurrent write
    activity_id = store.write(lambda conn: leads.log_activities(conn, lead_id, [item])[0])
    return Sent(message, lead_id, activity_id, threaded, count + 1, mail.daily_cap)
