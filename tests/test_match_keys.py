"""The duplicate matcher's stored blocks (schema 12): each lead's `match_email`, `match_phone` and
`match_company` (`pipecli.store.matchkeys`) are written by every path that writes the details they come
from, erased with the lead, filled by the migration for the leads already there, and read by add-lead's
check and `pipecli duplicates` through their indexes.

After each command the stored blocks are compared with the ones worked out in the test from the stored
details (`consistent`), and a few are spelt out by hand.
"""

from __future__ import annotations

import json

import pytest

from pipecli import identity
from pipecli.store.matchkeys import blocks_of, match_columns
from pipecli.store.migrations import LATEST
from pipecli.transfer import importer

BLOCKS = "SELECT id, match_email, match_phone, match_company FROM lead ORDER BY id"


def consistent(cli) -> dict[int, tuple]:
    """Assert every lead's stored blocks are those of its stored details; return id -> stored blocks."""
    stored = {r[0]: r[1:] for r in cli.sql(BLOCKS)}
    for lead_id, email, phone, company in cli.sql("SELECT id, email, phone, company FROM lead ORDER BY id"):
        assert stored[lead_id] == tuple(match_columns(email, phone, company).values()), lead_id
    return stored


def test_an_import_batch_gets_the_blocks_each_lead_gets_alone():
    """`blocks_of` (an import's batch, its phones of digits and separators read without a regex) gives
    what `match_columns` gives each lead, "" for none."""
    phones = ["+39 02 1234567", "(02) 123-4567 x 12", "02 1234567 #3", "02\t1234567;ext=9", "0039 02 123 4567 int. 4",
              "123", "n/a", "", "+39 ٠٢ ١٢٣٤٥٦٧", "02 1234567 interno 5", "+1 (555) 010-9999 ext 7"]  # fmt: skip
    emails = ["Anna+CRM@Rossi.it ", "info@rossi.it", "", "a@b@c.it", "x", "Bo@X.IT", "", "", "", "", ""]
    companies = ["Rossi S.r.l.", "", "ACME Inc.", "  ", "Müller GmbH", "", "", "", "", "", ""]
    got = blocks_of(emails, phones, companies)
    for i in range(len(phones)):
        alone = match_columns(emails[i] or None, phones[i] or None, companies[i] or None)
        assert [column[i] for column in got] == [v or "" for v in alone.values()], (emails[i], phones[i])
    assert got[1][:3] == ["234567", "234567", "234567"]  # the extensions cut off
    assert got[1][8] == "٢٣٤٥٦٧"  # digits of another script kept, as the regex keeps them


def test_the_blocks_are_the_canonical_forms_the_matcher_compares():
    assert match_columns("Anna+CRM@Rossi.it ", "+39 02 1234567 ext. 12", "Rossi S.r.l.") == {
        "match_email": "anna@rossi.it",
        "match_phone": "234567",  # the last six digits, the extension cut off
        "match_company": "rossi",
    }
    assert match_columns("info@rossi.it", "n/a", "  ") == dict.fromkeys(identity.MATCH_COLUMNS)  # a team's mailbox
    # every pair the matcher accepts shares a stored block (what the lookups rely on)
    a = identity.Contact("Anna Rossi", "Rossi Srl", "anna@rossi.it", "+39 02 1234567")
    b = identity.Contact("Rossi Anna", "ROSSI S.R.L.", None, "0039 02-123-4567")
    assert identity.match(a, b, "IT") is not None
    assert set(identity.blocks(a)) & set(identity.blocks(b))


def test_add_edit_and_undo_keep_the_blocks_in_step(cli):
    lead = int(cli("add-lead", "Anna Rossi", "--company", "Rossi S.r.l.", "--email", "Anna+crm@Rossi.it",
                   "--phone", "+39 02 1234567").stdout)  # fmt: skip
    assert consistent(cli)[lead] == ("anna@rossi.it", "234567", "rossi")
    cli("edit", lead, "--email", "info@bianchi.de", "--company", "Bianchi GmbH", "--phone", "+49 30 7654321")
    assert consistent(cli)[lead] == (None, "654321", "bianchi")  # a team's mailbox is no block
    cli("undo", "--yes")
    assert consistent(cli)[lead] == ("anna@rossi.it", "234567", "rossi")
    cli("edit", lead, "--company", "")
    assert consistent(cli)[lead] == ("anna@rossi.it", "234567", None)
    cli("undo", "--yes")
    assert consistent(cli)[lead] == ("anna@rossi.it", "234567", "rossi")
    cli("undo", "--yes")  # undoing the undo does the edit again
    assert consistent(cli)[lead] == ("anna@rossi.it", "234567", None)
    # the blocks are derived: history shows only the details
    fields = {r[0] for r in cli.sql("SELECT DISTINCT field FROM event WHERE lead_id = :l", l=lead)}
    assert not {f for f in fields if f.startswith("match_")}
    assert cli("history", lead).stdout.count("match") == 0


def test_delete_and_its_undo_take_the_blocks_away_and_back(cli):
    lead = int(cli("add-lead", "Anna Rossi", "--company", "Rossi Srl", "--email", "anna@rossi.it").stdout)
    cli("delete", lead, "--yes")
    assert cli.sql(BLOCKS) == []
    cli("undo", "--yes")
    assert consistent(cli)[lead] == ("anna@rossi.it", None, "rossi")


def test_imports_write_the_blocks_row_wise_and_column_wise(cli):
    rows = "".join(f"Lead {i},Azienda {i % 7} S.p.A.,lead{i}+x@a{i % 5}.it,+39 02 {1000000 + i}\n" for i in range(40))
    cli("import", "-", input="name,company,email,phone\n" + rows)  # column-wise (the fast path)
    stored = consistent(cli)
    assert len(stored) == 40 and stored[1] == ("lead0@a0.it", "000000", "azienda 0")
    # keyed: row by row, the updates through the one write of a lead's columns
    cli("import", "-", "--key", "email",
        input="email,company,phone\nlead0+x@a0.it,Verdi Srl,\nlead41@b.it,Neri Snc,02 555 1212\n")  # fmt: skip
    stored = consistent(cli)
    assert stored[1] == ("lead0@a0.it", None, "verdi")  # an empty cell of a column the file has empties it
    assert stored[41] == ("lead41@b.it", "551212", "neri")


@pytest.mark.sqlite_only  # SQLite's bulk path: indexes dropped and rebuilt, rows checked in a helper process
def test_a_big_import_through_the_helper_process_writes_the_blocks(cli, tmp_path, monkeypatch):
    forks = []

    class Counted(importer.helper.Worker):
        def __init__(self, produce):
            forks.append(1)
            super().__init__(produce)

    monkeypatch.setattr(importer, "BULK_ROWS", 100)  # big from 100 rows, so a small file takes the bulk path
    monkeypatch.setattr(importer.helper, "Worker", Counted)
    rows = "".join(f"Lead {i},Studio {i % 300} Srl,p{i}@s{i % 300}.it,+39 06 {2000000 + i}\n" for i in range(3000))
    path = tmp_path / "big.csv"
    path.write_text("name,company,email,phone\n" + rows)
    cli("import", path)
    assert forks == [1]
    stored = consistent(cli)
    assert len(stored) == 3000 and stored[3000] == ("p2999@s299.it", "002999", "studio 299")
    assert cli.sql("SELECT name FROM sqlite_master WHERE name LIKE 'ix_lead_match_%' ORDER BY name") == [
        ("ix_lead_match_company",),
        ("ix_lead_match_email",),
        ("ix_lead_match_phone",),
    ]


def test_merge_keeps_the_kept_leads_blocks_in_step_and_takes_the_others_away(cli):
    a = int(cli("add-lead", "Anna Rossi", "--company", "Rossi Srl").stdout)
    b = int(cli("add-lead", "Rossi Anna", "--company", "Rossi S.r.l.", "--email", "anna@rossi.it",
                "--phone", "+39 02 1234567").stdout)  # fmt: skip
    cli("merge", a, b, "--yes")
    assert consistent(cli) == {a: ("anna@rossi.it", "234567", "rossi")}
    cli("undo", "--yes")
    assert consistent(cli) == {a: (None, None, "rossi"), b: ("anna@rossi.it", "234567", "rossi")}


def test_forget_erases_the_blocks_with_the_person(cli):
    keep = int(cli("add-lead", "Marco Bianchi", "--email", "marco@bianchi.it").stdout)
    cli("add-lead", "Anna Rossi", "--company", "Rossi Srl", "--email", "anna@rossi.it", "--phone", "+39 02 1234567")
    cli("forget", "anna@rossi.it", "--yes")
    assert cli.sql(BLOCKS) == [(keep, "marco@bianchi.it", None, None)]
    # nothing left anywhere holds her blocks (the lead row is gone, and no event carries them)
    assert cli.scalar("SELECT COUNT(*) FROM event WHERE new LIKE '%234567%' OR new LIKE '%rossi%'") == 0


def test_add_lead_finds_each_kind_of_copy_through_the_stored_blocks(cli):
    anna = int(cli("add-lead", "Anna Rossi", "--company", "Rossi S.r.l.", "--email", "anna@rossi.it").stdout)
    luca = int(cli("add-lead", "Luca Neri", "--phone", "+39 333 123 4567").stdout)
    # the stored blocks are what the check reads: a lead whose block was changed behind pipecli's back is
    # not found by it, which shows the check asks the columns rather than the details
    cli.execute("UPDATE lead SET match_company = 'elsewhere' WHERE id = :i", i=anna)
    result = cli("add-lead", "Rossi Anna", "--company", "ROSSI SRL")
    assert result.stderr == ""
    cli.execute("UPDATE lead SET match_company = 'rossi' WHERE id = :i", i=anna)
    result = cli("add-lead", "Rossi Anna", "--company", "ROSSI SRL")
    assert f"looks like lead {anna} (Anna Rossi, Rossi S.r.l.): same name and company" in result.stderr
    result = cli("add-lead", "A. Rossi", "--email", "ANNA+web@rossi.it")
    assert f"looks like lead {anna} (Anna Rossi, Rossi S.r.l.): same email" in result.stderr
    result = cli("add-lead", "Neri Luca", "--phone", "0039 333-123-4567")
    assert f"looks like lead {luca} (Luca Neri): same phone and a similar name" in result.stderr


@pytest.mark.sqlite_only  # the plan of SQLite's query planner (PostgreSQL's depends on its statistics)
def test_the_check_and_the_email_key_are_index_lookups(cli):
    cli("add-lead", "Anna Rossi", "--company", "Rossi Srl", "--email", "anna@rossi.it", "--phone", "02 1234567")
    sql, params = identity.candidates_sql(identity.Contact("Rossi Anna", "Rossi S.r.l.", "anna@rossi.it", "1234567"))
    plan = " ".join(r[-1] for r in cli.sql("EXPLAIN QUERY PLAN " + sql, **params))
    for index in ("ix_lead_match_email", "ix_lead_match_phone", "ix_lead_match_company"):
        assert index in plan, plan
    assert "SCAN lead" not in plan.replace("SCAN lead USING", ""), plan  # no pass over the whole table
    email = " ".join(
        r[-1]
        for r in cli.sql(
            "EXPLAIN QUERY PLAN " + "SELECT * FROM lead WHERE email IS NOT NULL AND lower(email) IN ('a@b.it')"
        )
    )
    assert "ix_lead_email" in email, email


def downgrade_to_11(cli) -> None:
    """Make the test's database look as schema 11 left it: no blocks, `ix_lead_email` on the plain column."""
    for index in ("ix_lead_match_email", "ix_lead_match_phone", "ix_lead_match_company", "ix_lead_email"):
        cli.execute(f"DROP INDEX {index}")
    for column in identity.MATCH_COLUMNS:
        cli.execute(f"ALTER TABLE lead DROP COLUMN {column}")
    cli.execute("CREATE INDEX ix_lead_email ON lead (email) WHERE email IS NOT NULL")
    cli.execute("UPDATE meta SET value = '11' WHERE key = 'schema_version'")


def test_the_migration_fills_the_blocks_of_the_leads_already_there(cli):
    rows = "".join(f"Lead {i},Rossi {i} S.r.l.,l{i}@r.it,+39 02 {3000000 + i}\n" for i in range(20))
    cli("import", "-", input="name,company,email,phone\n" + rows + "Nobody,,,\n")
    copy = int(cli("add-lead", "Rossi Lead 4", "--company", "Rossi 4 Srl", "--email", "L4+x@r.it").stdout)
    downgrade_to_11(cli)
    listed = json.loads(cli("duplicates", "--format", "json").stdout)  # the first command migrates
    assert cli.scalar("SELECT value FROM meta WHERE key = 'schema_version'") == str(LATEST)  # 12, then 13
    stored = consistent(cli)
    assert stored[1] == ("l0@r.it", "000000", "rossi 0") and stored[21] == (None, None, None)
    assert stored[copy] == ("l4@r.it", None, "rossi 4")
    assert [(p["id"], p["duplicate_id"], p["why"]) for p in listed] == [(5, copy, "same email")]
    if cli.db.startswith("postgresql"):
        names = "SELECT indexname FROM pg_indexes WHERE tablename = 'lead' AND indexname LIKE 'ix_lead_%' ORDER BY 1"
        definition = cli.scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_lead_email'")
    else:
        names = "SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE 'ix_lead_%' ORDER BY 1"
        definition = cli.scalar("SELECT sql FROM sqlite_master WHERE name = 'ix_lead_email'")
    assert {"ix_lead_match_email", "ix_lead_match_phone", "ix_lead_match_company"} <= {r[0] for r in cli.sql(names)}
    assert "lower(email)" in definition.replace('"', "").replace("(email)::text", "email")


def test_duplicates_lists_what_comparing_every_lead_finds(cli):
    """`duplicates` compares only the leads sharing a stored block; the pairs are those the matcher finds
    comparing every lead of the selection (worked out here from the stored details)."""
    cli("pipeline", "add", "Partners", "--stages", "Talk,Deal")
    people = [
        ("Anna Rossi", "Rossi S.r.l.", "anna@rossi.it", "+39 02 1234567"),
        ("Rossi Anna", "ROSSI SRL", None, None),  # same name and company
        ("A. Rossi", None, "Anna+crm@Rossi.it", None),  # same email
        ("Luca Neri", "Neri Snc", None, "+39 333 1234567"),
        ("Neri Luca", None, None, "0039 333-123-4567"),  # same phone and a similar name
        ("Marco Rossi", "Rossi Srl", None, None),  # a colleague: no duplicate
        ("Sara Verdi", None, "info@verdi.it", None),
        ("Paolo Verdi", None, "info@verdi.it", None),  # a team's mailbox: no duplicate
        ("Giulia Bruno", "Bruno GmbH", None, None),
    ]
    for name, company, email, phone in people:
        options = [o for flag, v in (("--company", company), ("--email", email), ("--phone", phone)) if v
                   for o in (flag, v)]  # fmt: skip
        cli("add-lead", name, *options)
    cli("add-lead", "Bruno Giulia", "--company", "Bruno Gmbh", "--pipeline", "Partners")
    listed = json.loads(cli("duplicates", "--format", "json").stdout)
    got = [(p["id"], p["duplicate_id"], p["why"], p["merge"]) for p in listed]
    contacts = [
        identity.Contact(*r[1:], id=r[0])
        for r in cli.sql("SELECT id, name, company, email, phone FROM lead ORDER BY id")
    ]
    want = [(a.id, b.id, why) for a, b, why in identity.duplicates(contacts)]
    assert (
        [g[:3] for g in got]
        == want
        == [
            (1, 2, "same name and company"),
            (1, 3, "same email"),
            (4, 5, "same phone and a similar name"),
            (9, 10, "same name and company"),
        ]
    )
    assert got[3][3] == "pipecli merge 9 10 --into 9"  # two pipelines: the command says which lead stays
    assert json.loads(cli("duplicates", "--pipeline", "Partners", "--format", "json").stdout) == []
