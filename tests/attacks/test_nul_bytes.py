"""NUL bytes and invalid UTF-8 in what pipecli is given (issue 19): command arguments, CSV files and mail.
Each is refused with one line (a CSV row with its line number) or stored exactly, the same on both
backends, and never a traceback. PostgreSQL's text cannot hold a NUL, so no backend stores one: a SQLite
file holding one could never be moved to PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.test_mail_sync import ME, NOW, add_lead, maildir, message

NUL_ARGS = [
    ["add-lead", "Anna\x00Rossi"],
    ["add-lead", "Anna", "--company", "Rossi\x00 Srl"],
    ["add-lead", "Anna", "--note", "met\x00 at the fair"],
    ["add-lead", "Anna", "--owner", "marco\x00"],
    ["edit", "{lead}", "--owner", "gi\x00ulia"],
    ["edit", "{lead}", "--name", "Bob\x00"],
    ["log", "{lead}", "call", "--note", "called\x00"],
    ["move", "{lead}", "lost", "--reason", "price\x00"],
    ["follow-up", "{lead}", "2026-12-01", "send\x00 quote"],
]


def one_line(result) -> str:
    assert result.exit_code == 1, (result.exit_code, result.output, result.exception)
    assert result.stderr.startswith("pipecli: ") and result.stderr.count("\n") == 1, result.stderr
    assert "internal error" not in result.stderr
    return result.stderr


@pytest.mark.parametrize("args", NUL_ARGS, ids=[" ".join(a[:2]) + f" {i}" for i, a in enumerate(NUL_ARGS)])
def test_a_nul_in_an_argument_is_refused_with_one_line_and_nothing_changes(cli, args):
    lead = cli("add-lead", "Seed", "--value", "100").stdout.strip()
    before = cli.every_row()
    said = one_line(cli(*[a.format(lead=lead) for a in args], ok=False))
    assert "NUL byte" in said and "\\x00" in said and "\x00" not in said
    bad = next(a for a in args if "\x00" in a)
    # it names the value (a duplicate check may have lowered it first), not the command line
    assert repr(bad.partition("\x00")[0].lower())[:-1] in said.lower() and "--" not in said
    assert cli.every_row() == before


def test_invalid_utf8_in_an_argument_is_refused_with_one_line(cli):
    lead = cli("add-lead", "Seed").stdout.strip()
    before = cli.every_row()
    # what Python makes of an argument that is not valid UTF-8 (surrogateescape)
    for args in (["add-lead", "Anna\udcff"], ["log", lead, "call", "--note", "caf\udce9"]):
        assert "not valid UTF-8" in one_line(cli(*args, ok=False))
    assert cli.every_row() == before


def _csv(path, rows: int, bad_row: bytes) -> bytes:
    """Write a CSV of `rows` good rows (more than the first 64 KB the opening check reads) and then
    `bad_row`; return the file's bytes."""
    data = b"name,email,note\n" + b"".join(b"P%d,p%d@example.com,a note of some length\n" % (i, i) for i in range(rows))
    data += bad_row
    path.write_bytes(data)
    assert len(data) > 65536
    return data


@pytest.mark.parametrize("key", [[], ["--key", "email"]], ids=["column-wise", "row-by-row"])
def test_a_nul_after_the_first_64_kb_of_a_csv_is_refused_with_its_line(cli, tmp_path, key):
    """Issue 19: a NUL after the head the opening check reads was accepted and stored. A plain import
    checks a batch column by column (fastpath), a keyed one row by row (rows): both refuse it."""
    cli("add-lead", "Seed")
    before = cli.every_row()
    path = tmp_path / "leads.csv"
    rows = 2500
    _csv(path, rows, b"Bad,bad@example.com,no\x00te\n")
    failed = cli("import", str(path), *key, ok=False)
    assert failed.exit_code == 1
    assert f"line {rows + 2}, column 'note', value 'no\\x00te': holds a NUL byte" in failed.stderr
    assert "\x00" not in failed.stderr and "internal error" not in failed.stderr
    assert cli.every_row() == before  # nothing imported
    rejects = tmp_path / "rejects.csv"
    cli("import", str(path), *key, "--skip-invalid", "--rejects", str(rejects))
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1 + rows
    assert cli.scalar("SELECT COUNT(*) FROM lead WHERE name = 'Bad'") == 0
    assert b"Bad,bad@example.com,no\x00te," in rejects.read_bytes()  # kept as read, with its reason


def test_invalid_utf8_after_the_first_64_kb_of_a_csv_is_one_line_with_its_line(cli, tmp_path):
    cli("add-lead", "Seed")
    before = cli.every_row()
    path = tmp_path / "leads.csv"
    _csv(path, 2500, b"Bad,bad@example.com,caf\xe9\n")
    said = one_line(cli("import", str(path), ok=False))
    assert "not valid utf-8 text" in said and "--encoding" in said, said
    assert f"offset {len(path.read_bytes()) - 2}" in said  # where: the byte 0xe9 of the last row
    assert cli.every_row() == before


def test_nul_and_invalid_utf8_in_mail_are_logged_with_a_replacement_character(cli, tmp_path):
    """A message is another party's text: a sync cannot refuse it without stopping there for good, so a NUL
    (which no stored text may hold) and bytes that are not UTF-8 both read as U+FFFD, on both backends."""
    (tmp_path / "config.toml").write_text('[mail]\naddresses = ["me@seller.example"]\n')
    ann = add_lead(cli, "Ann", "ann@acme.example")
    msg = message("ann@acme.example", ME, "Re: quote", NOW - 86400, body="Yes.")
    raw = msg.as_bytes().replace(b"Subject: Re: quote", b"Subject: Re: qu\x00ote")
    raw = raw.replace(b"Yes.", b"Y\x00es \xff\xfe.")
    (tmp_path / "raw.eml").write_bytes(raw)
    import mailbox

    box = maildir(tmp_path / "Maildir", [])
    mailbox.Maildir(box).add(raw)
    synced = cli("mail", "sync", str(box), "--keep-body", "--format", "json")
    assert json.loads(synced.stdout)["logged"] == 1, synced.stdout
    subject, body = cli.sql("SELECT subject, body FROM activity WHERE lead_id = :l", l=ann)[0]
    assert subject == "Re: qu\ufffdote"
    assert body.strip() == "Y\ufffdes \ufffd\ufffd."
