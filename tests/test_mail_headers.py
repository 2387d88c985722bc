"""`mail sync` reads only a message's header block (`sync.head_of`): what a message is matched and logged
by is the same whatever its body holds, big attachments and header-like lines included."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipecli.mail.sync import head_of
from tests.test_mail_sync import ME, NOW, activities, add_lead, maildir, message, seller, sync  # noqa: F401 (seller: the autouse fixture)

DAY = 86400


@pytest.mark.parametrize(
    ("data", "head"),
    [
        (b"From: a@b.c\nSubject: x\n\nbody\n\nmore\n", b"From: a@b.c\nSubject: x\n\n"),
        (b"From: a@b.c\r\nSubject: x\r\n\r\nbody\r\n", b"From: a@b.c\r\nSubject: x\r\n\r\n"),
        (b"From: a@b.c\nSubject: x\n", b"From: a@b.c\nSubject: x\n"),  # no body: the whole of it
        (b"From: a@b.c\n\tfolded\n\nTo: not-a-header@x.y\n", b"From: a@b.c\n\tfolded\n\n"),
    ],
)
def test_the_head_of_a_message_ends_at_its_first_empty_line(data, head):
    assert head_of(data) == head


def test_a_big_attachment_and_header_like_body_lines_change_nothing_of_what_is_logged(cli, tmp_path):
    ann = add_lead(cli, "Ann", "ann@acme.example")
    add_lead(cli, "Bob", "bob@other.example")
    t = NOW - 5 * DAY
    big = message("Ann <ann@acme.example>", ME, "the contract", t, body="From: bob@other.example\nSubject: no\n")
    big.add_attachment(os.urandom(3 << 20), maintype="application", subtype="pdf", filename="contract.pdf")
    crlf = message("Ann <ann@acme.example>", ME, "windows mail", t + 60)
    box = maildir(tmp_path / "Maildir", [big])
    # a second message written with CRLF line ends, as some servers and mail readers store them
    crlf_bytes = crlf.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    Path(box / "new" / "1790000000.crlf.test").write_bytes(crlf_bytes)
    sync(cli, box)
    rows = activities(cli)
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [
        (ann, "reply", "in", "the contract"),
        (ann, "reply", "in", "windows mail"),
    ]
    assert all(r[4].startswith("<") for r in rows)  # their Message-IDs, read from the header block
