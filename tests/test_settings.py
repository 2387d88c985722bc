"""`pipecli settings`: the settings a team shares, kept in the database, on both backends.

Two sellers are two config files on one database: the database's value wins over each file's (issue 16:
`currency = "JPY"` in one seller's config turned a €4,500.50 lead into 450050 for them), a file that still
sets the key is warned about, and every change is one journal entry with its author and time.
"""

from __future__ import annotations

import json

import pytest


@pytest.fixture
def seller(tmp_path, monkeypatch):
    """Return a function writing the config file of the seller now at the keyboard (and naming them)."""

    def use(name: str, toml: str = "") -> None:
        (tmp_path / f"{name}.toml").write_text(toml)
        monkeypatch.setenv("PIPECLI_CONFIG", str(tmp_path / f"{name}.toml"))
        monkeypatch.setenv("PIPECLI_USER", name)

    return use


def shown(cli, *args) -> dict:
    return json.loads(cli("settings", *args, "--format", "json").stdout)[0]


def stored(cli) -> list[tuple]:
    return cli.sql("SELECT key, value, set_by, set_at FROM setting ORDER BY key")


def test_the_database_currency_wins_over_a_sellers_config_and_the_seller_is_warned(cli, seller):
    seller("anna")
    cli("settings", "set", "currency", "eur")
    lead = int(cli("add-lead", "Acme", "--value", "4500.50").stdout)

    seller("marco", 'currency = "JPY"\n')
    result = cli("list", "--format", "json")

    assert json.loads(result.stdout)[0]["value"] == 4500.5  # 450050 minor units of EUR, not ¥450,050
    assert "currency = 'JPY'" in result.stderr and "'EUR'" in result.stderr
    assert cli.sql("SELECT value_minor FROM lead WHERE id = :i", i=lead) == [(450050,)]


def test_set_get_and_list_say_where_each_value_comes_from(cli, seller):
    seller("anna")
    set_row = shown(cli, "set", "scoring.hot_threshold", "60")
    seller("anna", "stale_days = 9\n[forecast]\nruns = 500\n")  # after the first write: not adopted
    assert set_row == {
        "key": "scoring.hot_threshold",
        "value": 60.0,
        "source": "database",
        "set_by": "anna",
        "set_at": "2026-11-28T09:00:00+00:00",
    }
    every = {s["key"]: s for s in json.loads(cli("settings", "list", "--format", "json").stdout)}
    assert (every["stale_days"]["value"], every["stale_days"]["source"]) == (9, "config file")
    assert (every["forecast.runs"]["value"], every["forecast.runs"]["source"]) == (500, "config file")
    assert (every["clean.percentile"]["value"], every["clean.percentile"]["source"]) == (90.0, "default")
    assert every["qualification.required"]["value"] == ["budget", "authority", "need", "timeline"]
    assert shown(cli, "get", "scoring.hot_threshold")["value"] == 60.0
    assert stored(cli) == [("scoring.hot_threshold", "60.0", "anna", 1795856400)]


def test_a_list_value_and_a_shared_setting_the_core_reads(cli, seller):
    seller("anna")
    cli("settings", "set", "qualification.required", '["need", "budget"]')
    lead = int(cli("add-lead", "Acme").stdout)
    answered = json.loads(cli("qualify", lead, "--need", "yes", "--budget", "5000", "--format", "json").stdout)
    assert answered["required"] == ["need", "budget"]


def test_the_database_stale_days_drives_clean_for_everyone(cli, seller):
    seller("anna", "stale_days = 30\n")
    cli("pipeline", "add", "Ops", "--stages", "New,Done")
    old = int(cli("add-lead", "Old", "--pipeline", "Ops", "--at", "2026-11-22").stdout)  # 6 days silent
    cli.execute("UPDATE lead SET next_step = 'call' WHERE id = :i", i=old)

    def silent() -> list[int]:
        rows = json.loads(cli("clean", "--pipeline", "Ops", "--format", "json").stdout)
        return [r["lead_id"] for r in rows if r["rule"] == "silent"]

    assert old not in silent()  # 6 days < the file's 30
    cli("settings", "set", "stale_days", "5")
    assert old in silent()  # 6 days > the database's 5, whatever anna's file says


def test_a_mistyped_key_gets_the_closest_one_and_changes_nothing(cli, seller):
    seller("anna")
    result = cli("settings", "set", "scoring.hot_treshold", "20", ok=False)
    assert result.exit_code == 1
    assert (
        result.stderr.strip()
        == "pipecli: scoring.hot_treshold is not a shared setting; did you mean scoring.hot_threshold?"
    )
    assert "Traceback" not in result.stderr
    assert stored(cli) == []
    assert cli.scalar("SELECT COUNT(*) FROM journal WHERE command LIKE '%settings%'") == 0


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("stale_days", "abc", "stale_days must be a whole number, not 'abc'"),
        ("stale_days", "0", "stale_days must be a number of at least 1, not 0"),
        ("clean.percentile", "150", "percentile must be between 1 and 100, not 150"),
        ("qualification.required", '["need", "mood"]', "one of budget, authority, need, timeline"),
        ("currency", "XYZ", "'XYZ' is not an ISO 4217 currency code"),
        ("locale", "it_IT", "locale is a personal setting: set it in your config file"),
        ("mail.smtp", "smtp://x", "mail.smtp is a personal setting"),
    ],
)
def test_a_bad_value_or_a_personal_key_is_refused_in_one_line(cli, seller, key, value, says):
    seller("anna")
    result = cli("settings", "set", key, value, ok=False)
    assert result.exit_code == 1 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert stored(cli) == []


def test_the_currency_of_a_database_with_amounts_cannot_change(cli, seller):
    seller("anna")
    cli("settings", "set", "currency", "USD")  # nothing priced yet: allowed
    cli("add-lead", "Acme", "--value", "10")
    result = cli("settings", "set", "currency", "JPY", ok=False)
    assert result.exit_code == 1
    assert "currency stays USD: 1 lead(s) hold amounts" in result.stderr
    unset = cli("settings", "unset", "currency", ok=False)  # back to the default EUR: refused the same way
    assert unset.exit_code == 1 and "currency stays USD" in unset.stderr
    assert [r[:2] for r in stored(cli)] == [("currency", '"USD"')]
    cli("settings", "set", "currency", "usd")  # the same currency: no change of meaning


def test_unset_falls_back_to_the_config_file_and_every_change_is_journalled(cli, seller):
    seller("anna")  # a file with the key would be adopted by this first write (test_settings_adopt.py)
    cli("settings", "set", "scoring.hot_threshold", "40")
    seller("marco", "[scoring]\nhot_threshold = 70\n")
    cli("settings", "set", "scoring.hot_threshold", "45")
    after = shown(cli, "unset", "scoring.hot_threshold")
    assert (after["value"], after["source"]) == (70, "config file")
    assert stored(cli) == []
    entries = cli.sql(
        "SELECT j.actor, e.field, e.old IS NULL, e.new IS NULL FROM event e JOIN journal j ON j.id = e.journal_id "
        "WHERE e.field = 'row:setting' ORDER BY e.id"
    )
    assert entries == [
        ("anna", "row:setting", True, False),
        ("marco", "row:setting", False, False),
        ("marco", "row:setting", False, True),
    ]
    missing = cli("settings", "unset", "scoring.hot_threshold", ok=False)
    assert missing.exit_code == 1 and "does not set scoring.hot_threshold" in missing.stderr


def test_undo_puts_the_previous_value_back(cli, seller):
    seller("anna")
    cli("settings", "set", "forecast.seed", "7")
    cli("settings", "set", "forecast.seed", "8")
    cli("undo", "--yes")
    assert shown(cli, "get", "forecast.seed")["value"] == 7


def test_import_adopts_a_config_files_shared_keys_in_one_change(cli, seller, tmp_path):
    seller("anna", 'currency = "CHF"\nlocale = "it_IT"\n[scoring]\nhot_threshold = 55\n[clean]\nsample = 300\n')
    imported = json.loads(cli("settings", "import", "--format", "json").stdout)
    assert {s["key"]: s["value"] for s in imported} == {
        "currency": "CHF",
        "scoring.hot_threshold": 55.0,
        "clean.sample": 300,
    }
    assert {r[0] for r in stored(cli)} == {"currency", "scoring.hot_threshold", "clean.sample"}  # not locale
    assert cli.scalar("SELECT COUNT(DISTINCT journal_id) FROM event WHERE field = 'row:setting'") == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[scoring]\nhot_treshold = 1\n")
    result = cli("settings", "import", str(bad), ok=False)
    assert result.exit_code == 1 and "did you mean scoring.hot_threshold?" in result.stderr
    assert len(stored(cli)) == 3
