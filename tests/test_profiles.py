"""`pipecli import --from VENDOR`: each vendor's export (its real header row, tests/fixtures/crm) read into
the right leads, outcomes and dates; the "looks like a status" guard; headers in other languages."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "crm"


def ts(text: str) -> int:
    """Epoch seconds of an ISO time in UTC (the tests run with TZ=UTC)."""
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp())


def stored(cli) -> list[tuple]:
    return cli.sql(
        "SELECT l.name, l.company, l.value_minor, l.status, s.name, l.external_id, l.owner, l.created_at, "
        "l.closed_at, l.expected_close FROM lead l JOIN stage s ON s.id = l.stage_id ORDER BY l.id"
    )


def extras(cli, key: str) -> list[tuple]:
    return cli.sql(
        "SELECT l.name, e.value FROM lead_extra e JOIN lead l ON l.id = e.lead_id WHERE e.key = :k ORDER BY l.id",
        k=key,
    )


def fixture(tmp_path, name: str) -> str:
    return str(shutil.copy(FIXTURES / name, tmp_path / name))


# the three deals every deal fixture holds: won, lost, open (the open one in Qualification)
def deals(ids: tuple[str, str, str], won_at: str, lost_at: str, expected: str, created: tuple[str, str, str]):
    return [
        ("Rossi renewal", "Rossi Srl", 450000, "won", "won", ids[0], "Alice", ts(created[0]), ts(won_at), None),
        ("Acme pilot", "Acme", 120050, "lost", "lost", ids[1], "Bob", ts(created[1]), ts(lost_at), None),
        (
            "Globex expansion",
            "Globex",
            3000000,
            "open",
            "Qualification",
            ids[2],
            "Alice",
            ts(created[2]),
            None,
            expected,
        ),
    ]


CREATED = ("2026-03-02T10:15:00", "2026-04-01T09:00:00", "2026-09-15T08:00:00")


def test_pipedrive_deals_export(cli, tmp_path):
    path = fixture(tmp_path, "pipedrive_deals.csv")
    result = cli("import", path)  # recognised by its header, no --from needed
    assert "read as: Pipedrive deals export (--from pipedrive)" in result.stderr
    assert "kept as extra fields: Person - Name" in result.stderr.splitlines()  # Deal - Currency is read
    got = stored(cli)
    want = deals(("101", "102", "103"), "2026-05-20T16:00:00", "2026-06-10T11:30:00", "2026-12-15", CREATED)
    # Pipedrive exports the expected close date of closed deals too
    want[0] = want[0][:-1] + ("2026-05-31",)
    want[1] = want[1][:-1] + ("2026-06-30",)
    assert got == want
    assert cli.sql("SELECT email, lost_reason FROM lead ORDER BY id") == [
        ("anna@rossi.it", None),
        ("bob@acme.com", "Price too high"),
        ("hank@globex.com", None),
    ]
    assert extras(cli, "Person - Name") == [
        ("Rossi renewal", "Anna Rossi"),
        ("Acme pilot", "Bob Jones"),
        ("Globex expansion", "Hank Scorpio"),
    ]


def test_a_deal_in_another_currency_is_refused_not_stored_as_the_databases(cli, tmp_path):
    """Pipedrive's `Deal - Currency` (and Salesforce's `CurrencyIsoCode`) say what the value is in: a USD
    deal in the EUR database is a row error, where it was stored as €4,500.00; a USD database takes it."""
    path = tmp_path / "usd.csv"
    path.write_text((FIXTURES / "pipedrive_deals.csv").read_text().replace(",EUR,", ",USD,"))
    before = cli.every_row()
    bad = cli("import", str(path), ok=False)
    assert bad.exit_code == 1
    assert (
        f"pipecli: {path}: line 2, column 'value', value '4500 USD': amount '4500 USD' is in USD, but this "
        "database keeps EUR; convert it first, or give it without a currency"
    ) in bad.stderr.splitlines()
    assert "3 rejected" in bad.stderr
    assert cli.every_row() == before
    sf = tmp_path / "sf.csv"
    lines = (FIXTURES / "salesforce_opportunities.csv").read_text().splitlines()
    sf.write_text("\n".join([lines[0] + ",CurrencyIsoCode", *(line + ",GBP" for line in lines[1:])]) + "\n")
    assert cli("import", str(sf), ok=False).exit_code == 1
    assert cli.every_row() == before
    (tmp_path / "config.toml").write_text('currency = "USD"\n')
    cli("import", str(path))
    assert cli.sql("SELECT value_minor FROM lead ORDER BY id") == [(450000,), (120050,), (3000000,)]


def test_salesforce_opportunities_export(cli, tmp_path):
    path = fixture(tmp_path, "salesforce_opportunities.csv")
    result = cli("import", path, "--from", "salesforce")
    assert "read as: Salesforce opportunities export" in result.stderr
    # CloseDate is when a closed opportunity closed, and an open one's expected close
    ids = ("0065g00000A1b2CAAR", "0065g00000A1b2DAAR", "0065g00000A1b2EAAR")
    assert stored(cli) == deals(ids, "2026-05-20T00:00:00", "2026-06-10T00:00:00", "2026-12-15", CREATED)
    # probabilities have no column: kept as extras; forecast categories in Salesforce's words are read as
    # pipecli's ("Closed" is none: the forecast reads open deals only)
    assert extras(cli, "Probability") == [("Rossi renewal", "100"), ("Acme pilot", "0"), ("Globex expansion", "35")]
    assert extras(cli, "ForecastCategoryName") == []
    assert cli.sql("SELECT forecast_category FROM lead ORDER BY id") == [(None,), ("omit",), ("pipeline",)]


def test_hubspot_deals_export(cli, tmp_path):
    path = fixture(tmp_path, "hubspot_deals.csv")
    result = cli("import", path, "--from", "hubspot")
    assert "read as: HubSpot deals export" in result.stderr
    assert "kept as extra fields: Pipeline" in result.stderr.splitlines()  # the field's name, not `extra:Pipeline`
    want = deals(("9001", "9002", "9003"), "2026-05-20T16:00:00", "2026-06-10T11:30:00", "2026-12-15", CREATED)
    assert stored(cli) == want
    # HubSpot's pipeline name is not a pipecli pipeline: kept, not read as one
    assert [v for _, v in extras(cli, "Pipeline")] == ["Sales Pipeline"] * 3


def test_hubspot_contacts_export_joins_first_and_last_names(cli, tmp_path):
    path = fixture(tmp_path, "hubspot_contacts.csv")
    result = cli("import", path, "--from", "hubspot")
    assert "read as: HubSpot contacts export" in result.stderr
    assert cli.sql("SELECT name, company, email, phone, owner, external_id, status FROM lead ORDER BY id") == [
        ("Anna Rossi", "Rossi Srl", "anna@rossi.it", "+39 02 1234567", "Alice", "501", "open"),
        ("Bob Jones", "Acme", "bob@acme.com", "+1 555 0100", "Bob", "502", "open"),
    ]
    assert extras(cli, "Lifecycle Stage") == [("Anna Rossi", "Customer"), ("Bob Jones", "Lead")]


def test_zoho_deals_export(cli, tmp_path):
    path = fixture(tmp_path, "zoho_deals.csv")
    result = cli("import", path)
    assert "read as: Zoho CRM deals export (--from zoho)" in result.stderr
    ids = ("zcrm_4876000000123001", "zcrm_4876000000123002", "zcrm_4876000000123003")
    assert stored(cli) == deals(ids, "2026-05-20T00:00:00", "2026-06-10T00:00:00", "2026-12-15", CREATED)
    assert cli.sql("SELECT source, lost_reason FROM lead ORDER BY id") == [
        ("Referral", None),
        ("Web", "Price too high"),
        ("Cold Call", None),
    ]


def test_odoo_opportunities_export(cli, tmp_path):
    path = fixture(tmp_path, "odoo_opportunities.csv")
    result = cli("import", path, "--from", "odoo")
    assert "read as: Odoo CRM opportunities export" in result.stderr
    assert stored(cli) == [
        (
            "Rossi renewal",
            "Rossi Srl",
            450000,
            "won",
            "won",
            "__export__.crm_lead_101",
            "Alice",
            ts(CREATED[0]),
            ts("2026-05-20T16:00:00"),
            "2026-05-31",
        ),
        (
            "Globex expansion",
            "Globex",
            3000000,
            "open",
            "Qualification",
            "__export__.crm_lead_103",
            "Alice",
            ts(CREATED[2]),
            None,
            "2026-12-15",
        ),
    ]


def test_a_profile_that_does_not_fit_writes_nothing(cli, tmp_path):
    path = fixture(tmp_path, "pipedrive_deals.csv")
    result = cli("import", path, "--from", "hubspot", ok=False)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"pipecli: {path} is not a HubSpot deals export: it has no column 'Record ID', 'Deal Name', 'Deal Stage'; "
        "it looks like a Pipedrive deals export (--from pipedrive)"
    ]
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0


def test_unknown_profile_is_a_usage_error(cli, tmp_path):
    path = fixture(tmp_path, "pipedrive_deals.csv")
    result = cli("import", path, "--from", "excel", ok=False)
    assert result.exit_code == 2
    assert "'excel' is not one of csv, pipedrive, hubspot, salesforce, zoho, odoo" in result.stderr


@pytest.mark.parametrize(
    ("header", "cells"),
    [
        ("Deal - Status", ("won", "lost")),  # Pipedrive's, read as plain CSV
        ("IsWon", ("true", "false")),  # Salesforce's
        ("Outcome", ("Won", "Lost")),
        ("Result", ("Closed Won", "Closed Lost")),  # by its values, whatever its name
    ],
)
def test_a_status_column_not_read_as_one_stops_the_import(cli, tmp_path, header, cells):
    path = tmp_path / "deals.csv"
    path.write_text(f"Name,Amount,{header}\nAnna,100,{cells[0]}\nBob,200,{cells[1]}\n")
    result = cli("import", str(path), "--from", "csv", ok=False)
    assert result.exit_code == 1
    advice = (
        f"pipecli: column {header!r} looks like a deal status but is not read as one; map it with "
        f"--map '{header}=stage' (values won/lost/a stage name), or keep it with --map '{header}=extra'"
    )
    if header == "IsWon":  # true/false are no stages: --map IsWon=stage would reject every row
        advice = (
            "pipecli: column 'IsWon' looks like a deal status but is not read as one, and its values (true, false)"
            " are not stages: keep it with --map 'IsWon=extra', or write them as won/lost or stage names and map it"
            " with --map 'IsWon=stage'"
        )
    assert result.stderr.strip().splitlines() == [advice]
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    cli("import", str(path), "--from", "csv", "--map", f"{header}=extra")  # said to keep it: kept
    assert [v for _, v in extras(cli, header)] == list(cells)


@pytest.mark.parametrize(
    ("header", "cells"),
    [("Deal - Status", ("won", "lost")), ("Outcome", ("Won", "Lost")), ("Result", ("Closed Won", "Closed Lost"))],
)
def test_the_guards_advice_followed_imports_every_row(cli, tmp_path, header, cells):
    path = tmp_path / "deals.csv"
    path.write_text(f"Name,Amount,{header}\nAnna,100,{cells[0]}\nBob,200,{cells[1]}\n")
    assert "--map" in cli("import", str(path), "--from", "csv", ok=False).stderr
    cli("import", str(path), "--from", "csv", "--map", f"{header}=stage")
    assert cli.sql("SELECT name, status FROM lead ORDER BY id") == [("Anna", "won"), ("Bob", "lost")]


def test_a_status_column_with_open_deals_is_not_advised_to_be_read_as_stages(cli, tmp_path):
    """Pipedrive's `Deal - Status` holds open for the deals still running: `--map ...=stage` would reject those
    rows, so the advice says to keep the column (or rewrite its values)."""
    path = tmp_path / "deals.csv"
    path.write_text("Name,Amount,Deal - Status\nAnna,100,open\nBob,200,won\nCarl,300,lost\n")
    result = cli("import", str(path), "--from", "csv", ok=False)
    assert result.exit_code == 1 and "its values (open, won, lost) are not stages" in result.stderr
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 0
    cli("import", str(path), "--from", "csv", "--map", "Deal - Status=extra")  # the advice, followed
    assert cli.scalar("SELECT COUNT(*) FROM lead") == 3


def test_a_column_with_won_lost_values_is_caught_by_its_values(cli, tmp_path):
    path = tmp_path / "deals.csv"
    path.write_text("Name,Amount,Esito\nAnna,100,Won\nBob,200,Lost\nCarl,300,Won\n")
    result = cli("import", str(path), ok=False)
    assert result.exit_code == 1 and "column 'Esito' looks like a deal status" in result.stderr
    cli("import", str(path), "--map", "Esito=stage")
    assert cli.sql("SELECT name, status FROM lead ORDER BY id") == [("Anna", "won"), ("Bob", "lost"), ("Carl", "won")]


@pytest.mark.parametrize(
    "header",
    [
        "Nome,Azienda,Valore,Fase,Data di chiusura prevista",
        "Nom,Société,Montant,Étape,Date de clôture prévue",
        "Nombre,Empresa,Importe,Etapa,Fecha de cierre prevista",
        "Kontakt,Firma,Betrag,Phase,Erwartetes Abschlussdatum",
    ],
)
def test_headers_in_italian_french_spanish_german(cli, tmp_path, header):
    path = tmp_path / "leads.csv"
    path.write_text(f"{header}\nAnna Rossi,Rossi Srl,4500,Meeting,2026-12-15\n", encoding="utf-8")
    result = cli("import", str(path))
    assert "kept as extra fields" not in result.stderr
    assert cli.sql(
        "SELECT l.name, l.company, l.value_minor, s.name, l.expected_close FROM lead l JOIN stage s ON s.id = l.stage_id"
    ) == [("Anna Rossi", "Rossi Srl", 450000, "Meeting", "2026-12-15")]


def test_close_date_in_other_languages(cli, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Nome,Fase,Data di chiusura\nAnna,won,2026-05-20\n", encoding="utf-8")
    cli("import", str(path))
    assert cli.sql("SELECT name, status, closed_at FROM lead") == [("Anna", "won", ts("2026-05-20T00:00:00"))]


def test_a_status_column_that_repeats_the_stage_passes_but_one_that_contradicts_it_stops(cli, tmp_path):
    """pipecli's own listing carries a status next to the stage: it says nothing new and imports; a status
    saying won next to an open stage (a vendor's export) would land the deal open, so it stops."""
    agrees = tmp_path / "agrees.csv"
    agrees.write_text("name,stage,status\nAnna,Prospecting,open\nBruno,won,won\nCarla,lost,lost\n", encoding="utf-8")
    cli("import", agrees)
    rows = cli.sql("SELECT l.name, s.name FROM lead l JOIN stage s ON s.id = l.stage_id ORDER BY l.name")
    assert [tuple(r) for r in rows] == [("Anna", "Prospecting"), ("Bruno", "won"), ("Carla", "lost")]
    contradicts = tmp_path / "contradicts.csv"
    contradicts.write_text("name,stage,status\nDario,Prospecting,won\n", encoding="utf-8")
    refused = cli("import", contradicts, ok=False)
    assert refused.exit_code == 1 and "looks like a deal status" in refused.stderr
    assert cli.sql("SELECT COUNT(*) FROM lead")[0][0] == 3
