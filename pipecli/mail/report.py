"""A report as an e-mail: multipart/alternative with the text report and an HTML version of the same
tables, sent over the `[mail]` settings (`clean --mail-to`, `changes --mail-to`)."""

from __future__ import annotations

import html
import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from pipecli import clock
from pipecli.errors import PipecliError
from pipecli.mail import smtp
from pipecli.mail.settings import settings

_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_RULE = re.compile(r"^\|(\s*:?-+:?\s*\|)+$")


def html_from_markdown(markdown: str, title: str) -> str:
    """Return an HTML page of a report written as pipecli's Markdown (headings, lines, pipe tables):
    every value escaped, each table a <table> with its header row and right-aligned number columns."""
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"><title>' + html.escape(title) + "</title></head><body>",
    ]
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("|") and i + 1 < len(lines) and _RULE.match(lines[i + 1].strip()):
            rule = _cells(lines[i + 1])
            right = [c.endswith(":") for c in rule]
            out.append('<table border="1" cellspacing="0" cellpadding="4">')
            out.append("<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in _cells(line)) + "</tr>")
            i += 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                cells = _cells(lines[i])
                out.append(
                    "<tr>"
                    + "".join(
                        f'<td align="right">{html.escape(c)}</td>'
                        if j < len(right) and right[j]
                        else f"<td>{html.escape(c)}</td>"
                        for j, c in enumerate(cells)
                    )
                    + "</tr>"
                )
                i += 1
            out.append("</table>")
            continue
        if line.startswith("## "):
            out.append(f"<h2>{html.escape(line[3:])}</h2>")
        elif line.startswith("# "):
            out.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line:
            out.append(f"<p>{html.escape(line)}</p>")
        i += 1
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _cells(line: str) -> list[str]:
    inner = line.strip().removeprefix("|").removesuffix("|")
    return [c.strip().replace("\\|", "|") for c in _CELL_SPLIT.split(inner)]


def check_address(to: str) -> None:
    """Raise a one-line PipecliError unless `to` is an e-mail address a report can be mailed to; checked
    before the report is rendered, so that a bad address is the command's only line."""
    if not parseaddr(to)[1] or "@" not in to:
        raise PipecliError(f"--mail-to needs an e-mail address, not {to!r}")


def report_message(to: str, subject: str, text_report: str, markdown_report: str) -> EmailMessage:
    """Return the report's e-mail to `to`: From `mail.from`, the text part, then the HTML part."""
    check_address(to)
    from_ = smtp.sender(settings())
    message = EmailMessage()
    message["From"] = from_
    message["To"] = to
    message["Subject"] = " ".join(subject.split())
    message["Date"] = formatdate(clock.now_ts(), localtime=False)
    message["Message-ID"] = make_msgid(domain=parseaddr(from_)[1].rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to a report
    message.set_content(text_report)
    message.add_alternative(html_from_markdown(markdown_report, subject), subtype="html")
    return message


def mail_report(to: str, subject: str, text_report: str, markdown_report: str) -> EmailMessage:
    """Send a report to `to` over the `[mail]` settings; return the message sent (raise one line on failure)."""
    message = report_message(to, subject, text_report, markdown_report)
    smtp.send(message, settings().smtp)
    return message
