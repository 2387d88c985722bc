"""`pipecli merge A B` and `pipecli duplicates`, through the CLI on both backends.

The two leads are one person entered twice:

    A  Anna Rossi, Rossi Srl,    anna@rossi.it,      no phone,        €1,000, owner -,   extra Industry=retail
    B  Rossi Anna, Rossi S.r.l., anna+crm@rossi.it,  +39 02 1234567,  €2,500, owner bob, extras Industry=food, Size=10

B also has two activities (a call and a mail captured by `mail sync`, its thread), a budget answer and a
follow-up; A has one activity and a need answer. Merged, A keeps its name, company, e-mail, value and
Industry (conflicts, listed), takes B's phone, owner, follow-up, Size and budget answer, and has all three
activities; B is gone, and `undo` puts every row back as it was.
"""

from __future__ import annotations

import json
import mailbox
from email.message import EmailMessage

import pytest

NOW = 1_795_856_400  # conftest's FROZEN_NOW, 2026-11-28 09:00 UTC
DAY = 86400
LEAD_TABLES = ("lead", "stage_change", "activity", "lead_extra", "qualification", "lead_merge")

# The extra fields come from an import (the only way extras arrive), upserting the two leads by external id.
EXTRAS = (
    "name,company,email,external_id,Industry,Size\n"
    "Anna Rossi,Rossi Srl,anna@rossi.it,A-1,retail,\n"
    "Rossi Anna,Rossi S.r.l.,anna+crm@rossi.it,B-1,food,10\n"
)


def build(cli, tmp_path, extras: bool = True) -> tuple[int, int]:
    """Make the two leads of the module docstring with their rows; return (A, B)."""
    (tmp_path / "config.toml").write_text(
        '[mail]\naddresses = ["me@seller.example"]\n\n[qualification]\nrequired = ["budget", "need"]\n'
    )
    a = int(cli("add-lead", "Anna Rossi", "--company", "Rossi Srl", "--email", "anna@rossi.it", "--value", "1000",
                "--external-id", "A-1", "--at", "10 days ago").stdout)  # fmt: skip
    b = int(cli("add-lead", "Rossi Anna", "--company", "Rossi S.r.l.", "--email", "anna+crm@rossi.it", "--phone",
                "+39 02 1234567", "--value", "2500", "--owner", "bob", "--external-id", "B-1", "--at", "9 days ago").stdout)  # fmt: skip
    if extras:
        cli("import", "-", "--key", "external_id", input=EXTRAS)
    cli("log", a, "meeting", "--note", "intro at the fair", "--at", "3 days ago")
    cli("log", b, "call", "--note", "asked for a quote", "--at", "2 days ago", "--next", "2026-12-02 send the quote")
    cli("qualify", a, "--need", "yes")
    cli("qualify", b, "--budget", "20000")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "Anna <anna+crm@rossi.it>", "me@seller.example", "Re: quote"
    msg["Date"], msg["Message-ID"] = "Fri, 27 Nov 2026 10:00:00 +0000", "<quote-1@rossi.it>"
    msg.set_content("Looks good.")
    mailbox.Maildir(tmp_path / "Maildir", create=True).add(msg)
    cli("mail", "sync", tmp_path / "Maildir")
    assert cli.sql("SELECT lead_id FROM activity WHERE message_id IS NOT NULL") == [(b,)]
    return a, b


@pytest.fixture
def pair(cli, tmp_path):
    """Return (A, B): the two leads of the module docstring, with their rows."""
    return build(cli, tmp_path)


def lead_rows(cli) -> dict[str, list[tuple]]:
    """Every row of the tables that hold leads (not the journal, which grows with every command)."""
    rows = cli.every_row()
    return {t: rows[t] for t in LEAD_TABLES}


def test_merge_moves_the_rows_fills_empty_details_and_keeps_and_lists_conflicts(cli, pair):
    a, b = pair
    result = cli("merge", a, b, "--yes")
    assert result.stdout.strip() == str(a)
    err = result.stderr
    assert f"merging lead {b} (Rossi Anna) into lead {a} (Anna Rossi)" in err
    assert "takes phone, owner, next_step, extra:Size, answer:budget; moves 2 activities" in err
    for line in (
        f"kept name: Anna Rossi; lead {b} had Rossi Anna (--take name keeps lead {b}'s)",
        f"kept company: Rossi Srl; lead {b} had Rossi S.r.l.",
        f"kept email: anna@rossi.it; lead {b} had anna+crm@rossi.it",
        f"kept value: €1,000.00; lead {b} had €2,500.00",
        f"kept external_id: A-1; lead {b} had B-1",
        f"kept extra:Industry: retail; lead {b} had food",
    ):
        assert line in err
    assert cli.sql("SELECT id FROM lead") == [(a,)]
    assert cli.sql(
        "SELECT name, company, email, phone, value_minor, owner, next_step, next_step_due, qualification FROM lead"
    ) == [("Anna Rossi", "Rossi Srl", "anna@rossi.it", "+39 02 1234567", 100000, "bob", "send the quote",
           "2026-12-02", "qualified")]  # fmt: skip
    # every activity is A's now, the captured mail with its Message-ID (the thread `mail send` replies in)
    assert cli.sql("SELECT lead_id, kind, message_id FROM activity ORDER BY at") == [
        (a, "meeting", None),
        (a, "call", None),
        (a, "reply", "<quote-1@rossi.it>"),
    ]
    assert cli.sql("SELECT key, value FROM lead_extra WHERE lead_id = :a ORDER BY key", a=a) == [
        ("Industry", "retail"),
        ("Size", "10"),
    ]
    assert cli.sql("SELECT criterion, answer FROM qualification ORDER BY criterion") == [
        ("budget", "20000"),
        ("need", "yes"),
    ]
    for table in ("stage_change", "activity", "lead_extra", "qualification"):
        assert cli.scalar(f"SELECT COUNT(*) FROM {table} WHERE lead_id = :b", b=b) == 0
    # the latest activity (the mail of 27 Nov 10:00) is A's last touch now
    assert cli.scalar("SELECT last_activity_at FROM lead") == NOW - DAY + 3600
    # the record names B and what was taken and kept
    merged = cli.sql("SELECT lead_id, merged_id, merged_name, fields FROM lead_merge")
    assert [m[:3] for m in merged] == [(a, b, "Rossi Anna")]
    assert json.loads(merged[0][3]) == {
        "took": ["phone", "owner", "next_step", "extra:Size", "answer:budget"],
        "kept": ["name", "company", "email", "value", "external_id", "extra:Industry"],
    }


def test_history_of_the_kept_lead_holds_both_histories_and_the_merge(cli, pair):
    a, b = pair
    cli("merge", a, b, "--yes")
    rows = json.loads(cli("history", a, "--format", "json").stdout)
    fields = [r["field"] for r in rows]
    assert fields[:2] == ["created", "stage"]  # A's own beginning
    assert f"#{b} created" in fields and f"#{b} activity" in fields and f"#{b} answer budget" in fields
    assert not any(f == f"#{b} deleted" for f in fields)  # B's removal is the merge line, not a deletion
    last = rows[-1]
    assert last["field"] == "merged" and last["command"].startswith(f"pipecli --db {cli.db} merge")
    assert last["to"] == (
        f"lead {b} (Rossi Anna): took phone, owner, next_step, extra:Size, answer:budget; "
        "kept name, company, email, value, external_id, extra:Industry"
    )
    # B's call appears once, as B's activity, not again as a row moved to A
    assert sum(1 for r in rows if r["field"].endswith("activity") and "asked for a quote" in (r["to"] or "")) == 1


def test_take_picks_the_other_leads_value_of_a_conflict(cli, pair):
    a, b = pair
    result = cli("merge", a, b, "--take", "email", "--take", "Value", "--take", "extra:Industry", "--yes")
    assert "kept email" not in result.stderr and "kept value" not in result.stderr
    assert cli.sql("SELECT email, value_minor, company FROM lead") == [("anna+crm@rossi.it", 250000, "Rossi Srl")]
    assert cli.sql("SELECT value FROM lead_extra WHERE key = 'Industry'") == [("food",)]


def test_undo_puts_back_both_leads_and_every_row_as_they_were(cli, pair):
    a, b = pair
    before = lead_rows(cli)
    cli("merge", a, b, "--take", "extra:Industry", "--yes")
    assert lead_rows(cli) != before
    undone = cli("undo", "--yes")
    assert "undid command" in undone.stderr and "merge" in undone.stderr
    assert lead_rows(cli) == before
    # B's history no longer shows under A, and redoing the merge works
    assert not any(r["field"].startswith("#") for r in json.loads(cli("history", a, "--format", "json").stdout))
    cli("undo", "--yes")
    assert cli.sql("SELECT id FROM lead") == [(a,)]


def test_the_events_of_a_merge_and_of_its_undo_replay_to_the_stored_rows(cli, tmp_path):
    """Without the imported extras (the importer records no events yet), every row has its events."""
    a, b = build(cli, tmp_path, extras=False)
    assert cli.verify() == []
    cli("merge", a, b, "--take", "answer:budget", "--yes")
    assert cli.verify() == []
    cli("undo", "--yes")
    assert cli.verify() == []
    cli("undo", "--yes")  # redone
    assert cli.verify() == [] and cli.sql("SELECT id FROM lead") == [(a,)]


def test_a_lead_merged_into_one_merged_later_keeps_all_three_histories(cli, pair):
    a, b = pair
    c = int(cli("add-lead", "Anna R.", "--email", "anna@rossi.it").stdout)
    cli("log", c, "note", "--note", "third copy")
    cli("merge", b, c, "--yes")  # C into B, then B into A
    cli("merge", a, b, "--yes")
    fields = [r["field"] for r in json.loads(cli("history", a, "--format", "json").stdout)]
    assert f"#{b} created" in fields and f"#{c} created" in fields and f"#{c} activity" in fields
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE lead_id = :a", a=a) == 4
    assert cli.sql("SELECT merged_id FROM lead_merge WHERE lead_id = :a ORDER BY id", a=a) == [(c,), (b,)]


def test_forgetting_the_kept_lead_erases_the_merged_leads_events_too(cli, pair):
    a, b = pair
    cli("merge", a, b, "--yes")
    cli("forget", a, "--yes")
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE lead_id IN (:a, :b)", a=a, b=b) == 0
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE new LIKE '%Rossi Anna%' OR old LIKE '%Rossi Anna%'") == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{a}", "{a}"], "lead {a} cannot be merged with itself: give two different leads"),
        (["{a}", "anna@rossi.it"], "lead {a} cannot be merged with itself: give two different leads"),
        (
            ["{a}", "{b}", "--take", "source"],
            "--take source: not a conflicting detail of leads {a} and {b} "
            "(conflicts: name, company, email, value, external_id, extra:Industry)",
        ),
        (["{a}", "{b}", "--take", "stage"], None),
        (["{a}", "{b}", "--into", "999"], "no lead with id 999 (see `pipecli list`)"),
        (["{a}", "999"], "no lead with id 999 (see `pipecli list`)"),
    ],
)
def test_bad_merges_are_one_line_exit_1_and_change_nothing(cli, pair, args, message):
    a, b = pair
    if args[-1] == "stage":
        cli("move", b, "Contact")
        message = f"--take stage: a merge keeps lead {a}'s stage (Prospecting); move it with `pipecli move` after"
    before = cli.every_row()
    result = cli("merge", *[x.format(a=a, b=b) for x in args], "--yes", ok=False)
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"pipecli: {message.format(a=a, b=b)}"]
    assert cli.every_row() == before


def test_leads_of_two_pipelines_merge_only_with_into_which_keeps_its_pipeline(cli, pair):
    a, b = pair
    cli("pipeline", "add", "Partners", "--stages", "Intro,Signed")
    cli("move", b, "Intro", "--pipeline", "Partners")
    before = cli.every_row()
    result = cli("merge", a, b, "--yes", ok=False)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"pipecli: lead {a} is in pipeline Sales and lead {b} in Partners: "
        f"say which lead stays (and so its pipeline) with --into {a} or --into {b}"
    )
    assert cli.every_row() == before
    cli("merge", a, b, "--into", b, "--yes")  # A merged into B: B and its pipeline stay
    assert cli.sql("SELECT l.id, p.name, l.email, l.phone FROM lead l JOIN pipeline p ON p.id = l.pipeline_id") == [
        (b, "Partners", "anna+crm@rossi.it", "+39 02 1234567")
    ]
    assert cli.scalar("SELECT COUNT(*) FROM activity WHERE lead_id = :b", b=b) == 3


def test_dry_run_and_a_missing_yes_change_nothing(cli, pair):
    a, b = pair
    before = cli.every_row()
    result = cli("merge", a, b, "--dry-run")
    assert result.stdout == ""
    assert f"would merge lead {b} (Rossi Anna) into lead {a} (Anna Rossi)" in result.stderr
    assert result.stderr.splitlines()[-1] == "dry run: nothing was changed"
    result = cli("merge", a, b, ok=False)  # not on a terminal: --yes is needed
    assert result.exit_code == 2 and "pass --yes" in result.stderr
    assert cli.every_row() == before


def test_duplicates_lists_each_pair_with_why_and_the_merge_command(cli, pair):
    a, b = pair
    lone = int(cli("add-lead", "Bruno Verdi", "--company", "Verdi SpA").stdout)
    other = int(cli("add-lead", "Bruno Verdi", "--company", "VERDI S.p.A.", "--phone", "02 555 1234").stdout)
    cli("pipeline", "add", "Partners", "--stages", "Intro,Signed")
    cli("move", other, "Intro", "--pipeline", "Partners")
    rows = json.loads(cli("duplicates", "--format", "json").stdout)
    assert rows == [
        {"id": a, "name": "Anna Rossi", "company": "Rossi Srl", "duplicate_id": b, "duplicate_name": "Rossi Anna",
         "duplicate_company": "Rossi S.r.l.", "why": "same email", "merge": f"pipecli merge {a} {b}"},
        {"id": lone, "name": "Bruno Verdi", "company": "Verdi SpA", "duplicate_id": other,
         "duplicate_name": "Bruno Verdi", "duplicate_company": "VERDI S.p.A.", "why": "same name and company",
         "merge": f"pipecli merge {lone} {other} --into {lone}"},
    ]  # fmt: skip
    assert [r["id"] for r in json.loads(cli("duplicates", "-p", "Sales", "--format", "json").stdout)] == [a]
    table = cli("duplicates").stdout
    assert f"pipecli merge {a} {b}" in table
    # the offered command works as offered
    cli(*rows[1]["merge"].split()[1:], "--yes")
    assert json.loads(cli("duplicates", "--format", "json").stdout) == rows[:1]
    cli("merge", a, b, "--yes")
    empty = cli("duplicates")
    assert empty.stdout == "" and empty.stderr.strip() == "no likely duplicates"


def test_clean_offers_the_merge_command_for_a_duplicate(cli, pair):
    a, b = pair
    out = cli("clean", "--rules", "duplicate").stdout
    assert f"#{b} Rossi Anna" in out
    assert f"      same email as lead {a} (Anna Rossi)\n      merge: pipecli merge {a} {b}" in out
