"""`mail sync` from Maildir and mbox, and `mail status`: kinds and engagement, matching (with the labelled
fixture's precision and recall), idempotence, a SIGKILL mid-sync, bad input. IMAP: test_mail_sync_imap.py.

The seller is me@seller.example (alias sales@seller.example), set in each test's config.
"""

from __future__ import annotations

import json
import mailbox
import os
import re
import signal
import subprocess
import sys
import time
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from tests.fixtures.mail import bulk, labelled

FIXTURES = Path(__file__).parent / "fixtures" / "mail"
ME = "me@seller.example"
NOW = 1_795_856_400  # conftest's FROZEN_NOW, 2026-11-28 09:00 UTC
DAY = 86400


@pytest.fixture(autouse=True)
def seller(tmp_path):
    """The seller's own addresses, in the test's config file."""
    (tmp_path / "config.toml").write_text('[mail]\naddresses = ["me@seller.example", "Sales@Seller.example"]\n')


def message(sender, to, subject, at, *, cc=None, message_id=True, headers=None, body="Hello."):
    """Return a message dated `at` (epoch seconds)."""
    import datetime

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    if cc:
        msg["Cc"] = cc
    msg["Date"] = format_datetime(datetime.datetime.fromtimestamp(at, datetime.UTC))
    if message_id:
        msg["Message-ID"] = f"<{abs(hash((sender, to, subject, at)))}@test.example>"
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    return msg


def maildir(path: Path, messages) -> Path:
    box = mailbox.Maildir(path, create=True)
    for msg in messages:
        box.add(msg)
    return path


def add_lead(cli, name, email, company=None):
    """Add a lead created 30 days before the frozen now; return its id."""
    args = ["add-lead", name, "--email", email, "--at", "30 days ago"] + (["--company", company] if company else [])
    return int(cli(*args).stdout.strip())


def activities(cli, lead_id=None):
    where = "" if lead_id is None else f" WHERE lead_id = {int(lead_id)}"
    return cli.sql(f"SELECT lead_id, kind, direction, subject, message_id, body FROM activity{where} ORDER BY at, id")


def sync(cli, *args, ok=True):
    return cli("mail", "sync", *map(str, args), ok=ok)


# --- kinds, directions, engagement and "silent" ---------------------------------------------------------


def test_sent_received_and_auto_replies_are_logged_with_their_kind_and_only_replies_engage(cli, tmp_path):
    ann = add_lead(cli, "Ann", "ann@acme.example")
    t0 = NOW - 25 * DAY  # the lead's stage (Prospecting) calls a lead silent after 21 days
    box = maildir(
        tmp_path / "Maildir",
        [
            message(f"Me <{ME}>", "Ann <ann@acme.example>", "Our offer", t0),
            message("Ann <ann@acme.example>", ME, "Re: Our offer", t0 + DAY),
            message(
                "Ann <ann@acme.example>", ME, "Re: Our offer", t0 + 20 * DAY, headers={"Auto-Submitted": "auto-replied"}
            ),
            message("Ann <ann@acme.example>", ME, "Out of office until Monday", t0 + 21 * DAY),
            message("Ann <ann@acme.example>", ME, "Away", t0 + 21 * DAY + 60, headers={"X-Autoreply": "yes"}),
            message("Ann <ann@acme.example>", ME, "Away", t0 + 21 * DAY + 120, headers={"Precedence": "auto_reply"}),
        ],
    )
    result = sync(cli, box, "--format", "json")
    assert json.loads(result.stdout)["logged"] == 6
    rows = activities(cli, ann)
    assert [(r[1], r[2]) for r in rows] == [("email", "out"), ("reply", "in")] + [("auto_reply", "in")] * 4
    assert rows[0][3] == "Our offer" and rows[0][5] is None  # subject kept, body not without --keep-body
    # the reply (t0 + 1 day) is the last sign of life: the auto-replies after it change nothing
    assert cli.scalar("SELECT last_activity_at FROM lead WHERE id = :i", i=ann) == t0 + DAY
    assert cli.scalar("SELECT last_event_at FROM lead WHERE id = :i", i=ann) == t0 + DAY
    explained = json.loads(cli("score", str(ann), "--explain", "--format", "json").stdout)
    kinds = {a["kind"]: a["points"] for a in explained["activities"]}
    assert kinds["reply"] == 15 and kinds["auto_reply"] == 0
    from tests.test_history import problems

    assert problems(cli) == []
    # silent since the reply, 24 days ago (> 21), although the auto-replies came 3 to 5 days ago
    silent = json.loads(cli("clean", "--format", "json").stdout)
    assert [(r["lead_id"], r["rule"]) for r in silent if r["rule"] == "silent"] == [(ann, "silent")]
    past = json.loads(cli("clean", "--as-of", "2026-11-27", "--format", "json").stdout)
    assert ann in [r["lead_id"] for r in past if r["rule"] == "silent"]


def test_a_reply_resets_silent_and_keep_body_stores_the_text(cli, tmp_path):
    ann = add_lead(cli, "Ann", "ann@acme.example")
    box = maildir(tmp_path / "Maildir", [message("ann@acme.example", ME, "Re: hi", NOW - DAY, body="Yes please.")])
    sync(cli, box, "--keep-body")
    assert activities(cli, ann)[0][5].strip() == "Yes please."
    assert cli.scalar("SELECT last_event_at FROM lead WHERE id = :i", i=ann) == NOW - DAY
    assert [r for r in json.loads(cli("clean", "--format", "json").stdout) if r["rule"] == "silent"] == []
    assert "activity" in cli("history", str(ann)).stdout  # logged through the journal
    from tests.test_history import problems

    assert problems(cli) == []  # the events reproduce the lead's cached columns


# --- matching -------------------------------------------------------------------------------------------


def test_matching_by_address_tag_and_case_cc_domain_but_never_free_mail(cli, tmp_path):
    ann = add_lead(cli, "Ann", "ann@acme.example")
    bob = add_lead(cli, "Bob", "bob@gmail.com")
    add_lead(cli, "Cy", "cy@twins.example")
    add_lead(cli, "Di", "di@twins.example")
    t = NOW - 5 * DAY
    box = maildir(
        tmp_path / "Maildir",
        [
            message("Ann <ANN+news@Acme.Example>", ME, "tag and case", t),
            message("Stranger <x@gmail.com>", ME, "cc", t + 1, cc="ann@acme.example"),
            message("Boss <boss@acme.example>", "sales@seller.example", "colleague", t + 2),
            message("Other <other@gmail.com>", ME, "free mail", t + 3),
            message("Bob <bob@gmail.com>", ME, "free-mail lead", t + 4),
            message("Eve <eve@twins.example>", ME, "shared domain", t + 5),
            message(ME, "Bob <bob@gmail.com>", "sent", t + 6),
        ],
    )
    result = json.loads(sync(cli, box, "--format", "json").stdout)
    got = {r[3]: r[0] for r in activities(cli)}
    assert got == {"tag and case": ann, "cc": ann, "colleague": ann, "free-mail lead": bob, "sent": bob}
    assert result["unmatched"] == 2
    assert [s["address"] for s in result["unmatched_senders"]] == ["eve@twins.example", "other@gmail.com"]


def test_the_labelled_fixture_is_matched_with_precision_and_recall_of_at_least_098(cli, tmp_path):
    leads_csv, labels, auto = labelled.build(tmp_path)
    (tmp_path / "leads.csv").write_text(leads_csv)
    cli("import", str(tmp_path / "leads.csv"))
    assert len(labels) >= 200
    sync(cli, tmp_path / "Maildir")
    email_of = dict(cli.sql("SELECT id, email FROM lead"))
    predicted = {
        int(re.search(r"#(\d+)$", subject).group(1)): email_of[lead] for lead, _, _, subject, _, _ in activities(cli)
    }
    correct = sum(1 for tag, email in predicted.items() if labels[tag] == email)
    relevant = sum(1 for email in labels.values() if email is not None)
    precision, recall = correct / len(predicted), correct / relevant
    print(f"labelled fixture: {len(labels)} messages, precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.98 and recall >= 0.98
    auto_logged = {
        int(re.search(r"#(\d+)$", r[0]).group(1))
        for r in cli.sql("SELECT subject FROM activity WHERE kind = 'auto_reply'")
    }
    assert auto_logged == auto


def test_create_leads_adds_unmatched_addresses_to_the_first_stage(cli, tmp_path):
    box = maildir(
        tmp_path / "Maildir",
        [message("Zed Zulu <zed@newco.example>", ME, "hello", NOW - DAY), message(ME, "zed@newco.example", "re", NOW)],
    )
    out = json.loads(sync(cli, box, "--create-leads", "--format", "json").stdout)
    assert out["created_leads"] == 1 and out["unmatched"] == 0 and out["logged"] == 2
    lead = cli.sql("SELECT l.id, l.name, l.email, s.position FROM lead l JOIN stage s ON s.id = l.stage_id")
    assert lead == [(lead[0][0], "Zed Zulu", "zed@newco.example", 1)]
    assert len(activities(cli, lead[0][0])) == 2


def test_a_later_create_leads_adds_the_leads_of_messages_read_before_without_rescan(cli, tmp_path):
    """A sync without --create-leads reads Zed's two messages and finds no lead; a later sync with it
    reads those two again (not Ann's, nor the one between the seller's own addresses), adds Zed's lead and
    logs them once; after that nothing is read again."""
    ann = add_lead(cli, "Ann", "ann@acme.example")
    msgs = [
        message("Ann <ann@acme.example>", ME, "from ann", NOW - 3 * DAY),
        message("Zed Zulu <zed@newco.example>", ME, "from zed", NOW - 2 * DAY),
        message(ME, "zed@newco.example", "to zed", NOW - DAY, message_id=False),
        message(ME, "sales@seller.example", "to myself", NOW - DAY + 60),
    ]
    box = maildir(tmp_path / "Maildir", msgs)
    first = json.loads(sync(cli, box, "--format", "json").stdout)
    assert (first["scanned"], first["logged"], first["unmatched"], first["created_leads"]) == (4, 1, 3, 0)
    again = json.loads(sync(cli, box, "--format", "json").stdout)
    assert again["scanned"] == 0  # without --create-leads the unmatched ones are not read again
    created = json.loads(sync(cli, box, "--create-leads", "--format", "json").stdout)
    assert (created["scanned"], created["logged"], created["created_leads"], created["unmatched"]) == (2, 2, 1, 0)
    zed = cli.scalar("SELECT id FROM lead WHERE email = 'zed@newco.example'")
    assert cli.scalar("SELECT name FROM lead WHERE id = :i", i=zed) == "Zed Zulu"
    assert {r[3]: r[0] for r in activities(cli)} == {"from ann": ann, "from zed": zed, "to zed": zed}
    assert cli.scalar("SELECT COUNT(*) FROM mail_seen WHERE key LIKE 'unmatched:%'") == 0
    for flags in ([], ["--create-leads"]):
        after = json.loads(sync(cli, box, *flags, "--format", "json").stdout)
        assert (after["scanned"], after["logged"]) == (0, 0), flags
    # an mbox (read whole every time) with the same messages: each already logged, nothing twice
    mbox = mailbox.mbox(tmp_path / "copy.mbox")
    for m in msgs:
        mbox.add(m)
    mbox.flush()
    again = json.loads(sync(cli, tmp_path / "copy.mbox", "--create-leads", "--format", "json").stdout)
    assert (again["scanned"], again["already_logged"], again["logged"], again["created_leads"]) == (4, 3, 0, 0)
    assert cli.scalar("SELECT COUNT(*) FROM activity") == 3
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 2


def test_a_later_create_leads_on_an_mbox_adds_the_leads_and_logs_each_message_once(cli, tmp_path):
    box = mailbox.mbox(tmp_path / "in.mbox")
    for m in [
        message("Zed Zulu <zed@newco.example>", ME, "from zed", NOW - 2 * DAY),
        message(ME, "Zed Zulu <zed@newco.example>", "to zed", NOW - DAY),
    ]:
        box.add(m)
    box.flush()
    first = json.loads(sync(cli, tmp_path / "in.mbox", "--format", "json").stdout)
    assert (first["logged"], first["unmatched"]) == (0, 2)
    created = json.loads(sync(cli, tmp_path / "in.mbox", "--create-leads", "--format", "json").stdout)
    assert (created["logged"], created["created_leads"]) == (2, 1)
    again = json.loads(sync(cli, tmp_path / "in.mbox", "--create-leads", "--format", "json").stdout)
    assert (again["logged"], again["already_logged"], again["created_leads"]) == (0, 2, 0)
    assert cli.sql("SELECT COUNT(*), COUNT(DISTINCT message_id) FROM activity") == [(2, 2)]
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 1


# --- idempotence ----------------------------------------------------------------------------------------


def test_every_message_is_logged_once_however_many_syncs_and_sources(cli, tmp_path):
    ann = add_lead(cli, "Ann", "ann@acme.example")
    msgs = [message("ann@acme.example", ME, f"m{i}", NOW - i * 3600, message_id=i % 2 == 0) for i in range(6)]
    box = maildir(tmp_path / "Maildir", msgs)
    mbox = mailbox.mbox(tmp_path / "copy.mbox")
    for m in msgs:
        mbox.add(m)
    mbox.flush()
    for _ in range(3):
        sync(cli, box)
    sync(cli, box, "--rescan")
    again = json.loads(sync(cli, tmp_path / "copy.mbox", "--format", "json").stdout)
    assert again["already_logged"] == 6 and again["logged"] == 0
    rows = activities(cli, ann)
    assert len(rows) == 6 and len({r[4] for r in rows}) == 6
    assert sum(r[4].startswith("sha256:") for r in rows) == 3  # no Message-ID: the content hash
    new = maildir(tmp_path / "Maildir", [message("ann@acme.example", ME, "new one", NOW)])
    assert json.loads(sync(cli, new, "--format", "json").stdout)["scanned"] == 1  # only the new file is read
    assert len(activities(cli, ann)) == 7


def test_status_shows_each_source_its_counts_and_last_error(cli, tmp_path):
    add_lead(cli, "Ann", "ann@acme.example")
    box = maildir(
        tmp_path / "Maildir",
        [message("ann@acme.example", ME, "a", NOW - 60), message("x@nobody.example", ME, "b", NOW)],
    )
    assert "no mail synced yet" in cli("mail", "status").stderr
    sync(cli, box)
    rows = json.loads(cli("mail", "status", "--format", "json").stdout)
    assert rows == [
        {
            "source": str(box.resolve()),
            "kind": "maildir",
            "last_sync_at": "2026-11-28T09:00:00+00:00",
            "logged_total": 1,
            "last_scanned": 2,
            "last_logged": 1,
            "last_matched": 1,
            "last_unmatched": 1,
            "last_error": None,
            "last_error_at": None,
        }
    ]
    assert cli("mail", "status", "--format", "csv").stdout.splitlines()[0].startswith("source,kind,last_sync_at")


# --- bad input ------------------------------------------------------------------------------------------


def test_bad_sources_and_addresses_are_one_line_exit_1_and_nothing_logged(cli, tmp_path):
    add_lead(cli, "Ann", "ann@acme.example")
    (tmp_path / "folder").mkdir()
    (tmp_path / "notes.txt").write_text("hello\n")
    box = maildir(tmp_path / "Maildir", [message("ann@acme.example", "someone@else.example", "not to me", NOW)])
    before = cli.every_row()
    cases = {
        str(tmp_path / "folder"): "not a Maildir",
        str(tmp_path / "notes.txt"): "not an mbox file",
        str(tmp_path / "missing"): "no such Maildir",
        "imaps://host.example/INBOX": "needs a user and a host",
        "imaps://me:secret@host.example/INBOX": "not the URL",
        str(box): "none of the first 1 messages",
    }
    for source, said in cases.items():
        result = sync(cli, source, ok=False)
        assert result.exit_code == 1, source
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert "secret" not in result.stderr
    again = sync(cli, box, ok=False)  # a failed first sync is still a first sync: checked again
    assert again.exit_code == 1 and "none of the first 1 messages" in again.stderr
    (tmp_path / "config.toml").write_text("")
    result = sync(cli, box, ok=False)
    assert result.exit_code == 1 and "[mail] addresses" in result.stderr
    after = cli.every_row()
    assert after["activity"] == before["activity"] and after["lead"] == before["lead"]


# --- SIGKILL mid-sync -----------------------------------------------------------------------------------


@pytest.mark.sqlite_only  # the batches' transactions are the backends' own; on PostgreSQL it only costs time
def test_a_sync_killed_mid_way_is_finished_by_the_next_exactly_once(cli, tmp_path):
    """A real `pipecli mail sync` subprocess is SIGKILLed once its first batch is committed; the next sync
    logs every message exactly once."""
    total, leads = 1500, 20
    (tmp_path / "leads.csv").write_text(bulk.lead_csv(leads))
    cli("import", str(tmp_path / "leads.csv"))
    box = bulk.write(tmp_path / "Maildir", total, leads)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipecli", "mail", "sync", str(box)],
        env={**os.environ, "PIPECLI_DB": cli.db},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while cli.scalar("SELECT COUNT(*) FROM activity") == 0 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = cli.scalar("SELECT COUNT(*) FROM activity")
    assert 0 < partial < total, f"the kill came too late to test anything ({partial} of {total} logged)"
    assert partial % 500 == 0  # whole batches only (sources.BATCH)
    sync(cli, box)
    assert cli.scalar("SELECT COUNT(*) FROM activity") == total
    assert cli.scalar("SELECT COUNT(DISTINCT message_id) FROM activity") == total
    assert cli.scalar("SELECT COUNT(DISTINCT lead_id) FROM activity") == leads


# --- JSON shapes ----------------------------------------------------------------------------------------


def test_json_shapes_of_mail_sync_and_status(cli, tmp_path):
    from tests.test_json_shapes import MAIL_STATUS, MAIL_SYNC, check

    add_lead(cli, "Ann", "ann@acme.example")
    box = maildir(
        tmp_path / "Maildir", [message("ann@acme.example", ME, "a", NOW), message("x@y.example", ME, "b", NOW)]
    )
    synced = json.loads(sync(cli, box, "--format", "json").stdout)
    assert synced["unmatched_senders"]  # so its items' shape is checked
    check(MAIL_SYNC, synced)
    check([MAIL_STATUS], json.loads(cli("mail", "status", "--format", "json").stdout))
